"""From forest area to carbon: factors, sinks, compensation ledgers, target verdicts, evaluation.

Fourth stage of the pipeline; pure functions that take frames and return frames.
"""
