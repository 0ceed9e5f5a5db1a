"""What every benchmark script needs before it imports policyqa: model hubs offline, the
repository on sys.path, the run's settings (SETTINGS, from POLICYQA_*, made the process's),
and where the corpus and the shared data live."""
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SEED = ROOT / "corpus" / "beijing-international-sci-tech-innovation-center_zh.txt"
# First, even when PYTHONPATH already holds it: sys.path[0] is benchmarks/, whose
# ingest.py would otherwise shadow the ingest package.
sys.path.insert(0, str(ROOT))

from ingest.settings import Settings, configure  # noqa: E402 - needs the repository on sys.path

SETTINGS = configure(Settings.from_env(os.environ))
