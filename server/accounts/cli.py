"""``jemput-server`` commands for field operators and their PINs (registered by server/cli.py)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from server.accounts import operators
from server.cli_errors import plain_errors

NEXT_SYNC = ("Perangkat tim {team} menerimanya pada sinkron berikutnya; setelah itu operator "
             "dapat masuk di laptop tanpa jaringan.")


@click.command("operator-add")
@click.argument("username")
@click.option("--team", required=True, help="Tim operator (sama dengan tim perangkatnya).")
@click.option("--nama", help="Nama lengkap operator (bawaan: nama penggunanya).")
@with_appcontext
def operator_add_command(username: str, team: str, nama: str | None) -> None:
    """Create a field operator and print the PIN once."""
    with plain_errors():
        pin = operators.create_operator(username, team, nama)
        created = operators.operator_info(username)
        devices = operators.team_devices(created["team"])
    click.echo(f"Operator '{created['username']}' ({created['nama']}) dibuat untuk tim "
               f"{created['team']}.")
    click.echo(f"PIN (catat dan serahkan sekarang, hanya tampil sekali): {pin}")
    click.echo(NEXT_SYNC.format(team=created["team"]))
    if devices == 0:
        click.echo(f"Perhatian: tim {created['team']} belum punya perangkat terdaftar; periksa "
                   "ejaan nama tim.", err=True)


@click.command("operator-pin")
@click.argument("username")
@with_appcontext
def operator_pin_command(username: str) -> None:
    """Give an operator a new PIN and print it once (the old one stops at the next sync)."""
    with plain_errors():
        pin = operators.reset_pin(username)
        operator = operators.operator_info(username)
    click.echo(f"PIN baru operator '{operator['username']}' (hanya tampil sekali): {pin}")
    click.echo(f"Laptop tim {operator['team']} memakai PIN baru ini setelah sinkron "
               "berikutnya; sampai saat itu PIN lama yang berlaku di sana.")


@click.command("operator-disable")
@click.argument("username")
@with_appcontext
def operator_disable_command(username: str) -> None:
    """Disable an operator: the team's devices drop it at their next sync."""
    _set_active(username, False)


@click.command("operator-enable")
@click.argument("username")
@with_appcontext
def operator_enable_command(username: str) -> None:
    """Enable a disabled operator again (with the PIN it had)."""
    _set_active(username, True)


def _set_active(username: str, active: bool) -> None:
    with plain_errors():
        changed = operators.set_active(username, active)
        operator = operators.operator_info(username)
    word = "aktif" if active else "nonaktif"
    if not changed:
        click.echo(f"Operator '{operator['username']}' memang sudah {word}.")
        return
    click.echo(f"Operator '{operator['username']}' sekarang {word}; perangkat tim "
               f"{operator['team']} mengetahuinya pada sinkron berikutnya.")


@click.command("operators")
@click.option("--team", help="Hanya operator tim ini.")
@with_appcontext
def operators_command(team: str | None) -> None:
    """List field operators (never their PINs or hashes)."""
    with plain_errors():
        rows = operators.listing(team)
    if not rows:
        click.echo("Belum ada operator" + (f" untuk tim {team.strip()}." if team else "."))
        return
    click.echo(f"{'Operator':<24} {'Nama':<28} {'Tim':<16} {'Status':<9} PIN diganti (UTC)")
    for row in rows:
        status = "aktif" if row["active"] else "nonaktif"
        changed = row["pin_changed_at"].strftime("%Y-%m-%d %H:%M")
        click.echo(f"{row['username']:<24} {row['nama'][:28]:<28} {row['team'][:16]:<16} "
                   f"{status:<9} {changed}")


COMMANDS: list[click.Command] = [operator_add_command, operator_pin_command,
                                 operator_disable_command, operator_enable_command,
                                 operators_command]
