"""The published atlas: layer specs, templates, maps, the static site and the PDF report.

Last stage of the pipeline: tables and rasters of a run in, self-contained pages out (no request elsewhere).
"""
