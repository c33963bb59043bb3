"""Runs the qwthn command line with every optimiser step slowed down, so a test can kill it mid-run.

Usage: python slowed_cli.py SECONDS_PER_STEP qwthn-arguments...
"""

from __future__ import annotations

import signal
import sys
import time

import torch

from qwthn.cli import main

delay = float(sys.argv[1])
original_step = torch.optim.AdamW.step


def slow_step(self, *args, **kwargs):
    time.sleep(delay)
    return original_step(self, *args, **kwargs)


torch.optim.AdamW.step = slow_step
# Ctrl-C as a terminal delivers it: a test run started in the background (`nohup bash scripts/test.sh &`) passes
# SIGINT ignored to its children, and qwthn rightly keeps an ignored SIGINT ignored.
signal.signal(signal.SIGINT, signal.default_int_handler)
main(sys.argv[2:])
