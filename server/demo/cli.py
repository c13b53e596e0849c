"""``jemput-server demo`` (the main job in one command) and ``demo-population``."""

from __future__ import annotations

import click
from flask.cli import ScriptInfo, with_appcontext

from server.core.commands import plain_errors
from server.coverage import figures
from server.demo import population as demo_population
from shared.display import format_number as number
from shared.display import format_percent as percent


@click.command("demo")
@click.option("--count", type=click.IntRange(1, 5000), default=40, show_default=True,
              help="Berapa penduduk direkam dalam demo.")
@click.option("--port", type=click.IntRange(0, 65535), default=5080, show_default=True,
              help="Port di 127.0.0.1 (port lain dipakai bila sibuk).")
@click.option("--scale", type=click.FloatRange(0.001, 1.0), default=1.0, show_default=True,
              help="Ukuran populasi sintetis (1 = 225.494 penduduk Sekadau; 0.1 untuk uji).")
@click.option("--serve/--no-serve", default=True, help="Tetap melayani sampai Ctrl-C.")
@click.pass_context
@plain_errors()
def demo_command(ctx: click.Context, count: int, port: int, scale: float, serve: bool) -> None:
    """Run the main job: server, field device, offline recording, sync, summary."""
    from field_client.errors import FieldClientError  # the demo pulls in the field client
    from server.demo.story import run_demo

    app = ctx.ensure_object(ScriptInfo).load_app()
    try:
        run_demo(app, count=count, port=port, scale=scale, serve=serve, echo=click.echo)
    except FieldClientError as exc:
        raise click.ClickException(exc.message) from exc


@click.command("demo-population")
@click.option("--scale", type=click.FloatRange(0, 1, min_open=True), default=1.0,
              show_default=True, help="Bagian dari populasi penuh (0,1 = 10 %).")
@click.option("--at", help="Tanggal acuan TTTT-BB-HH (bawaan: hari ini, WIB).")
@click.option("--seed", type=int, default=demo_population.DEFAULT_SEED, show_default=True,
              help="Benih acak: benih yang sama, penduduk yang sama.")
@click.option("--replace", is_flag=True, help="Ganti seluruh registri penduduk yang ada.")
@with_appcontext
def demo_population_command(scale: float, at: str | None, seed: int, replace: bool) -> None:
    """Load the Sekadau regions and a synthetic registry (148,293 wajib KTP at scale 1)."""
    with plain_errors():
        summary = demo_population.load(scale, at=figures.reference_date(at), seed=seed,
                                       replace=replace)
    click.echo(f"Penduduk demo dimuat: {number(summary.residents)} di {summary.desa} desa; "
               f"wajib KTP {number(summary.wajib)}, sudah rekam {number(summary.recorded)} "
               f"({percent(figures.share(summary.recorded, summary.wajib))} %), "
               f"{summary.seconds:.1f} detik.")


COMMANDS: list[click.Command] = [demo_command, demo_population_command]
