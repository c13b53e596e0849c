"""Two operators print the last blank at the same moment, from two processes: one wins.

Each process builds its own app and engine over the test database and waits at a barrier, so
both ``print_card`` calls reach the stock lock together. On PostgreSQL the ``blanko_head`` row
lock serialises them; the loser reads a balance of 0 under the lock and gets ``out_of_stock``.
(It runs on SQLite too, where the write lock does the same.)
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import case, func, select

from server.cards import blanko, printing
from server.core.errors import JemputError
from server.core.extensions import db
from server.core.models import BlankoEntry, Enrollment, PrintJob
from server.core.models.blanko import SIGN
from tests.support.server_app import make_app
from tests.support.suket import SUPERVISOR, add_stock, approved_record

ROUNDS = 3


def _print_one(url: str, instance: str, record_id: str, barrier: Any, results: Any) -> None:
    """Child process: its own app and engine; wait for the other, then print."""
    from server.core.extensions import dispose_engines

    app = make_app(Path(instance), url)
    if os.environ.get("JEMPUT_RACE_WITHOUT_LOCK"):  # the control: the test must then fail
        blanko.lock_stock = blanko._balance  # type: ignore[assignment]
    with app.app_context():
        db.session.execute(select(1))  # connect before the barrier: race on the lock only
        db.session.commit()
        barrier.wait(timeout=60)
        try:
            job = printing.print_card(record_id, actor=SUPERVISOR)
            results.put((os.getpid(), record_id, "printed", job.id))
        except JemputError as error:  # out_of_stock, not_printable
            results.put((os.getpid(), record_id, error.code, None))
        except Exception as error:  # anything else goes back to the parent as text
            results.put((os.getpid(), record_id, f"error: {error!r}", None))
    dispose_engines(app)


def test_two_processes_print_the_last_blank(app: Flask, push: Callable[..., Any],
                                            make_record: Callable[..., Any],
                                            tmp_path: Path) -> None:
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    context = mp.get_context("spawn")
    for round_ in range(ROUNDS):
        first = approved_record(app, push, make_record, serial=10 + 2 * round_)
        second = approved_record(app, push, make_record, serial=11 + 2 * round_)
        add_stock(app, 1)
        barrier, results = context.Barrier(2), context.Queue()
        workers = [context.Process(target=_print_one,
                                   args=(url, str(tmp_path / f"w{index}"), record_id,
                                         barrier, results))
                   for index, record_id in enumerate((first, second))]
        for index, worker in enumerate(workers):
            (tmp_path / f"w{index}").mkdir(exist_ok=True)
            worker.start()
        outcome = sorted(results.get(timeout=120)[2:] for _ in workers)
        for worker in workers:
            worker.join(timeout=60)
            assert worker.exitcode == 0
        assert [state for state, _ in outcome] == ["out_of_stock", "printed"], outcome
        with app.app_context():
            sign = func.sum(BlankoEntry.quantity * _sign())
            assert db.session.execute(select(sign)).scalar_one() == 0
            jobs = db.session.execute(select(func.count()).select_from(PrintJob)).scalar_one()
            assert jobs == round_ + 1
            states = sorted(db.session.execute(
                select(Enrollment.state).where(Enrollment.id.in_([first, second]))).scalars())
            assert states == ["approved", "printed"]
            db.session.commit()


def test_two_processes_print_the_same_record(app: Flask, push: Callable[..., Any],
                                             make_record: Callable[..., Any],
                                             tmp_path: Path) -> None:
    """Two operators press Print on one record: one card, one blank; the other is told."""
    record_id = approved_record(app, push, make_record)
    add_stock(app, 5)
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    context = mp.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    workers = [context.Process(target=_print_one, args=(url, str(tmp_path / f"s{index}"),
                                                        record_id, barrier, results))
               for index in range(2)]
    for index, worker in enumerate(workers):
        (tmp_path / f"s{index}").mkdir()
        worker.start()
    outcome = sorted(results.get(timeout=120)[2] for _ in workers)
    for worker in workers:
        worker.join(timeout=60)
    assert outcome == ["not_printable", "printed"]
    with app.app_context():
        assert blanko.available() == 4
        assert db.session.execute(select(func.count()).select_from(PrintJob)).scalar_one() == 1


def _sign() -> Any:
    return case(*[(BlankoEntry.kind == kind, value) for kind, value in SIGN.items()])
