"""``atlas build``: the default job on the embedded data."""

from __future__ import annotations

import json

import click

from .. import pipeline


@click.command("build")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="maps", show_default=True,
              help="Folder to publish into. Files the build owns are replaced atomically.")
def build_cmd(out_dir: str) -> None:
    """Run the whole atlas on the embedded default data (no network needed) and
    publish the results into OUT."""
    err = click.get_text_stream("stderr")
    with click.progressbar(length=len(pipeline.STEPS), label="atlas build", file=err) as bar:
        started = False

        def step(label: str) -> None:
            nonlocal started
            if started:
                bar.update(1)
            started = True
            bar.label = f"atlas build: {label}"
            bar.render_progress()

        result = pipeline.build(out_dir, progress=step)
        bar.update(1)
    click.echo(json.dumps(result.summary, ensure_ascii=False, indent=2))
    sinks = result.tables.get("sinks_pilots")
    if sinks is not None:
        cols = {"name_zh": "pilot", "climate_domain": "domain", "forest_ha": "forest_ha",
                "net_sink_tco2_per_yr_low": "net_low_tco2", "net_sink_tco2_per_yr_central": "net_central_tco2",
                "net_sink_tco2_per_yr_high": "net_high_tco2", "offset_ratio_central": "offset_ratio"}
        shown = sinks[list(cols)].rename(columns=cols)
        click.echo("Net forest sink per pilot, t CO2/yr (2.5 / central / 97.5 %), offset ratio vs reported "
                   "2010 emissions:")
        click.echo(shown.to_string(float_format=lambda v: f"{v:,.0f}" if abs(v) >= 10 else f"{v:.3f}"))
    click.echo(f"{len(result.files)} files written under {result.out_dir}", err=True)
