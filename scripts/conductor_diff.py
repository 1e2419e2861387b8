#!/usr/bin/env python3
"""`make conductor-diff`: Conductor's spec cases against the real Conductor and this project.

The logic lives in tests/conductor_spec/ (runner.py); see docs/conductor-compatibility.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conductor_spec.runner import main

if __name__ == "__main__":
    sys.exit(main())
