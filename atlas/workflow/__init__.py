"""The step graph behind `atlas build` and `atlas run`: config schema, content-keyed steps, cache, lock.

It wires regions → rasters → zonal → carbon → publish; the packaged default config is `default.toml`.
"""
