"""``jemput-server`` commands for outreach planning."""

from __future__ import annotations

import datetime as dt

import click
from flask.cli import with_appcontext

from server.accounts.actor import CLI_ACTOR
from server.core.commands import echo_json, plain_errors
from server.coverage import figures
from server.outreach import visits
from shared.labels import VISIT_STATE_LABELS


@click.command("outreach-rank")
@click.option("--kecamatan", help="Kode kecamatan, mis. 61.09.04 (bawaan: semua).")
@click.option("--at", help="Tanggal acuan TTTT-BB-HH (bawaan: hari ini, WIB).")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True,
              help="Berapa desa teratas yang dicetak.")
@click.option("--json", "as_json", is_flag=True, help="Cetak JSON (semua desa).")
@with_appcontext
def outreach_rank_command(kecamatan: str | None, at: str | None, limit: int,
                          as_json: bool) -> None:
    """Rank desa for the next visit: most not-recorded first, then longest unvisited."""
    with plain_errors():
        day = figures.reference_date(at)
        ranked = visits.ranking(day, kecamatan)
    if as_json:
        echo_json({"at": day, "desa": ranked})
        return
    click.echo(f"Peringkat desa untuk jemput bola per {day.isoformat()}")
    click.echo(f"{'#':>3} {'Kode':<14} {'Desa':<22} {'Kecamatan':<16} {'Belum':>6} "
               f"{'Terakhir':<11} {'Hari':>5}  Rencana")
    for number, row in enumerate(ranked[:limit], start=1):
        last = row.last_visit.isoformat() if row.last_visit else "belum"
        days = "" if row.days_since_last_visit is None else str(row.days_since_last_visit)
        plan = (f"{row.planned_visit.visit_date.isoformat()} {row.planned_visit.team}"
                if row.planned_visit else "")
        click.echo(f"{number:>3} {row.desa_kode:<14} {row.desa_nama[:22]:<22} "
                   f"{row.kecamatan_nama[:16]:<16} {row.not_recorded:>6} {last:<11} "
                   f"{days:>5}  {plan}")
    if len(ranked) > limit:
        click.echo(f"... {len(ranked) - limit} desa lagi (--limit untuk lebih banyak).")


@click.command("outreach-create")
@click.option("--desa", required=True, help="Kode desa, mis. 61.09.04.2006.")
@click.option("--date", "visit_date", required=True, help="Tanggal kunjungan TTTT-BB-HH.")
@click.option("--team", required=True, help="Tim yang berangkat.")
@click.option("--device", required=True, help="ID perangkat yang dibawa tim.")
@click.option("--days", type=int, default=1, show_default=True, help="Lama kunjungan (1-14).")
@with_appcontext
def outreach_create_command(desa: str, visit_date: str, team: str, device: str,
                            days: int) -> None:
    """Plan a visit; its target list reaches the device on its next sync."""
    with plain_errors():
        visit = visits.create_visit(desa, _date(visit_date), team, device, days=days,
                                      actor=CLI_ACTOR)
    click.echo(f"Kunjungan {visit.id} direncanakan: {visit.desa_nama} ({visit.kecamatan_nama}) "
               f"{visit.visit_date.isoformat()} s/d {visit.ends_on.isoformat()}, tim "
               f"{visit.team}, perangkat {visit.device_name}.")
    click.echo(f"{visit.target_count} sasaran dikirim ke perangkat pada sinkron berikutnya.")


@click.command("outreach-close")
@click.argument("visit_id")
@click.option("--cancel", is_flag=True, help="Batalkan (kunjungan tidak jadi) alih-alih tutup.")
@with_appcontext
def outreach_close_command(visit_id: str, cancel: bool) -> None:
    """Close (or cancel) a visit; the device deletes its target list on its next sync."""
    with plain_errors():
        visit = visits.close_visit(visit_id, actor=CLI_ACTOR, cancel=cancel)
    click.echo(f"Kunjungan {visit.id} ke {visit.desa_nama} {VISIT_STATE_LABELS[visit.state]}; "
               "daftar sasaran dihapus dari perangkat pada sinkron berikutnya.")


@click.command("outreach-show")
@click.argument("visit_id")
@click.option("--json", "as_json", is_flag=True, help="Cetak JSON, termasuk daftar sasaran.")
@with_appcontext
def outreach_show_command(visit_id: str, as_json: bool) -> None:
    """Show a visit's progress: targets recorded by now (SIAK or Jemput)."""
    with plain_errors():
        progress = visits.visit_progress(visit_id)
    visit = progress.visit
    if as_json:
        echo_json(visits.progress_document(progress))
        return
    percent = "—" if progress.percent is None else f"{progress.percent} %"
    click.echo(f"Kunjungan {visit.id}: {visit.desa_nama} ({visit.kecamatan_nama}) "
               f"{visit.visit_date.isoformat()}, tim {visit.team}, "
               f"{VISIT_STATE_LABELS[visit.state]}.")
    click.echo(f"Sasaran {visit.target_count}, sudah rekam {progress.done} ({percent}); "
               f"rekaman perangkat ini dari desa ini: {progress.records}.")


def _date(value: str) -> dt.date:
    """A required ``--date`` (``reference_date`` would take an empty one as today)."""
    if not value.strip():
        raise click.BadParameter("tanggal kosong", param_hint="--date")
    return figures.reference_date(value)


COMMANDS: list[click.Command] = [outreach_rank_command, outreach_create_command,
                                 outreach_close_command, outreach_show_command]
