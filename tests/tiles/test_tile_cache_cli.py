"""`craftmap tiles seed|clear|stats`, and their answers to bad input."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from geo.query import tile_cache
from geo.store import catalog
from geo.store.db import Engine
from tests.test_cli import invoke_cli
from tests.tiles.cache_fixtures import *  # noqa: F403 - the module's database and engines


def _count(engine: Engine, variant: str | None = None) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.text(
                    "SELECT count(*) FROM tile_cache "
                    "WHERE CAST(:v AS text) IS NULL OR variant = CAST(:v AS text)"
                ),
                {"v": variant},
            ).scalar_one()
        )


def test_seed_stats_clear(cache_urls: dict[str, str], owner_engine: Engine) -> None:
    env = {"DATABASE_URL": cache_urls["app"]}
    seeded = invoke_cli(
        "tiles",
        "seed",
        "--zooms",
        "5-8",
        "--province",
        "thanh hoa",
        "--collections",
        "villages",
        env=env,
    )
    assert seeded.returncode == 0, seeded.stderr
    assert "villages: zooms 5-8:" in seeded.stdout
    assert "0 already cached" in seeded.stdout
    key = tile_cache.variant([catalog.VILLAGES], None, 20_000).key
    held = _count(owner_engine, key)
    assert held > 4
    again = invoke_cli(
        "tiles",
        "seed",
        "--zooms",
        "5-8",
        "--province",
        "Thanh Hóa",
        "--collections",
        "villages",
        env=env,
    )
    assert f"0 tiles built, 0 empty, {held} already cached" in again.stdout
    combined = invoke_cli(
        "tiles", "seed", "--zooms", "6", "--bbox", "105.0,19.5,106.0,20.5", "--combined", env=env
    )
    assert combined.returncode == 0, combined.stderr
    assert combined.stdout.startswith("combined: zooms 6-6:")
    stats = invoke_cli("tiles", "stats", env=env)
    assert stats.returncode == 0, stats.stderr
    assert stats.stdout.split("\n")[0].split() == ["zoom", "tiles", "empty", "bytes"]
    total = stats.stdout.strip().split("\n")[-1].split()
    assert total[0] == "all" and int(total[1].replace(",", "")) == _count(owner_engine)
    cleared = invoke_cli("tiles", "clear", env=env)
    assert cleared.returncode == 0, cleared.stderr
    assert _count(owner_engine) == 0
    assert "The tile cache is empty." in invoke_cli("tiles", "stats", env=env).stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--zooms", "12-5"], "the first zoom is above the last"),
        (["--zooms", "5-23"], "zooms are 0 to 22"),
        (["--zooms", "five"], "give a zoom or a range"),
        (["--bbox", "106,20,105,21"], "west < east"),
        (["--bbox", "1,2,3"], "give W,S,E,N"),
        (["--province", "Atlantis"], "no province named 'Atlantis'"),
        (["--collections", "nothing-here"], "no collection 'nothing-here'"),
        (["--province", "Thanh Hóa", "--bbox", "105,19,106,20"], "not both"),
    ],
)
def test_seed_refuses_bad_input_in_one_line(
    cache_urls: dict[str, str], owner_engine: Engine, args: list[str], message: str
) -> None:
    answer = invoke_cli(
        "tiles", "seed", *args, env={"DATABASE_URL": cache_urls["app"]}, check=False
    )
    assert answer.returncode == 1
    assert message in answer.stderr
    assert "Traceback" not in answer.stderr
    assert len(answer.stderr.strip().splitlines()) == 1
    assert _count(owner_engine) == 0
