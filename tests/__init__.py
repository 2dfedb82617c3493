"""craftmap's tests."""

from pathlib import Path

# The checkout's demo dataset: the tests, like the CLI, say where it is (geo/ is not told).
DEMO_DIR = Path(__file__).resolve().parents[1] / "data" / "demo"
# The programme files (801/QĐ-TTg, 4182/QĐ-UBND) the demo load reads beside it.
PROGRAMMES_DIR = DEMO_DIR.parent / "programmes"
