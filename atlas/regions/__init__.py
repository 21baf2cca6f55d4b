"""Which regions, and where: the pilot registry, official statistics and WGS84 outlines.

First stage of the pipeline (regions → rasters → zonal → carbon → publish); pure tables and geometries.
"""
