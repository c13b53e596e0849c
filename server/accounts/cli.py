"""``jemput-server`` commands for accounts: first setup, office users, devices, field operators."""

from __future__ import annotations

import datetime as dt

import click
from flask import current_app
from flask.cli import with_appcontext

from server.accounts import devices, operators, setup, users
from server.core import keyring
from server.core.commands import plain_errors
from server.core.models import ROLES
from server.core.timeutil import office_time, utcnow

NEXT_SYNC = ("Perangkat tim {team} menerimanya pada sinkron berikutnya; setelah itu operator "
             "dapat masuk di laptop tanpa jaringan.")


@click.command("init")
@with_appcontext
@plain_errors()
def init_command() -> None:
    """Create or upgrade the database, load the Sekadau regions, create the first admin."""
    ring, _ = keyring.ensure(keyring.path_of(current_app))  # on PostgreSQL only init makes it
    report = setup.initialize()
    click.echo(f"Basis data siap. Wilayah Sekadau: {report.regions.imported} baru, "
               f"{report.regions.updated} diperbarui.")
    click.echo(f"Key ring kantor: {keyring.path_of(current_app)} (kunci {ring.current}, sidik "
               f"jari {ring.sealing.fingerprint}). Simpan cadangannya bersama basis data.")
    if report.admin_password is None:
        click.echo("Pengguna 'admin' sudah ada; kata sandinya tidak ditampilkan lagi.")
    else:
        click.echo("Pengguna 'admin' dibuat. Kata sandi (catat sekarang, hanya tampil sekali):")
        click.echo(f"  {report.admin_password}")


@click.command("rotate-key")
@with_appcontext
@plain_errors()
def rotate_key_command() -> None:
    """Add a new office sealing key and make it current; sealed records of older keys still open."""
    key = keyring.rotate(keyring.path_of(current_app))
    click.echo(f"Kunci segel baru {key.kid}, sidik jari {key.fingerprint}. Laptop menyegel ke "
               "kunci ini setelah sinkron berikutnya; kunci lama tetap membuka rekaman lama.")


@click.command("rotate-suket-key")
@with_appcontext
@plain_errors()
def rotate_suket_key_command() -> None:
    """Add a new Suket QR key and make it current; QR codes printed before still verify."""
    key = keyring.rotate_suket(keyring.path_of(current_app))
    click.echo(f"Kunci Suket baru {key.kid}: kode QR Suket yang dicetak mulai sekarang memakainya; "
               "kode QR yang sudah dicetak tetap dapat diperiksa.")


@click.command("create-user")
@click.argument("name")
@click.option("--role", required=True, help=f"Peran: {', '.join(ROLES)}.")
@with_appcontext
@plain_errors()
def create_user_command(name: str, role: str) -> None:
    """Create an office user and print its password once."""
    password = users.create_user(name, role)
    click.echo(f"Pengguna '{name.strip().lower()}' ({role}) dibuat. Kata sandi (hanya tampil "
               f"sekali):\n  {password}")


@click.command("user-password")
@click.argument("name")
@with_appcontext
@plain_errors()
def user_password_command(name: str) -> None:
    """Give an office user a new password (printed once); every session of theirs ends."""
    password = users.reset_password(name)
    click.echo(f"Kata sandi baru untuk '{name.strip().lower()}' (hanya tampil sekali; semua "
               f"sesi pengguna ini berakhir):\n  {password}")


@click.command("user-disable")
@click.argument("name")
@with_appcontext
@plain_errors()
def user_disable_command(name: str) -> None:
    """Disable an office user: every session of theirs ends and their API token stops."""
    ended = users.set_active(name, False)
    click.echo(f"Pengguna '{name.strip().lower()}' dinonaktifkan; {ended} sesi diakhiri.")


@click.command("user-enable")
@click.argument("name")
@with_appcontext
@plain_errors()
def user_enable_command(name: str) -> None:
    """Enable a disabled office user again (they log in anew)."""
    users.set_active(name, True)
    click.echo(f"Pengguna '{name.strip().lower()}' aktif lagi.")


@click.command("user-token")
@click.argument("name")
@with_appcontext
@plain_errors()
def user_token_command(name: str) -> None:
    """Issue an API token for an office user's scripts (replaces the user's older token)."""
    token = users.issue_api_token(name)
    click.echo(f"Token API untuk '{name.strip().lower()}' (hanya tampil sekali; token lama tidak "
               f"berlaku lagi):\n  {token}")


@click.command("device-code")
@click.option("--team", required=True, help="Tim penjangkauan yang memakai perangkat.")
@click.option("--ttl-hours", type=click.FloatRange(min=0, min_open=True), default=24.0,
              show_default=True, help="Masa berlaku kode, dalam jam.")
@click.option("--kecamatan", help="Kode kecamatan tugas tim, mis. 61.09.04.")
@with_appcontext
@plain_errors()
def device_code_command(team: str, ttl_hours: float, kecamatan: str | None) -> None:
    """Create a one-time code that registers one field device."""
    ttl = dt.timedelta(hours=ttl_hours)
    code = devices.create_registration_code(team, ttl=ttl, kecamatan_kode=kecamatan)
    expires = office_time(utcnow() + ttl)
    click.echo(f"Kode pendaftaran untuk tim {team}: {code}")
    if kecamatan:
        click.echo(f"Wilayah tugas: kecamatan {kecamatan.strip()}.")
    click.echo(f"Berlaku sekali pakai, sampai {expires}.")
    click.echo(f"Sidik jari kunci kantor: {keyring.current().sealing.fingerprint} (cocokkan "
               "dengan yang ditampilkan laptop saat mendaftar).")


@click.command("revoke-device")
@click.argument("device_id")
@with_appcontext
@plain_errors()
def revoke_device_command(device_id: str) -> None:
    """Revoke a device: its token stops working at once."""
    devices.revoke_device(device_id)
    click.echo(f"Perangkat {device_id} dicabut aksesnya.")


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
    click.echo(f"{'Operator':<24} {'Nama':<28} {'Tim':<16} {'Status':<9} PIN diganti")
    for row in rows:
        status = "aktif" if row["active"] else "nonaktif"
        changed = office_time(row["pin_changed_at"])
        click.echo(f"{row['username']:<24} {row['nama'][:28]:<28} {row['team'][:16]:<16} "
                   f"{status:<9} {changed}")


COMMANDS: list[click.Command] = [
    init_command,
    rotate_key_command, rotate_suket_key_command,
    create_user_command,
    user_password_command,
    user_disable_command,
    user_enable_command,
    user_token_command,
    device_code_command,
    revoke_device_command,
    operator_add_command, operator_pin_command,
                                 operator_disable_command, operator_enable_command,
                                 operators_command]
