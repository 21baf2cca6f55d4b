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
    click.echo(f"{len(result.files)} files written under {result.out_dir}", err=True)
