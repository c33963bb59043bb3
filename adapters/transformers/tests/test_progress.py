"""Progress in logs: whole lines every tenth of the work, no carriage returns."""

from __future__ import annotations

from qwthn_transformers.progress import LogLines, progress


def test_plain_lines_when_stderr_is_not_a_terminal(capsys):
    with progress(total=100, description="fine-tuning", unit="step") as bar:
        assert isinstance(bar, LogLines)  # pytest's captured stderr is not a terminal
        for step in range(100):
            bar.update()
            bar.set_postfix(loss=f"{1 / (step + 1):.3f}")
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = err.splitlines()
    assert len(lines) == 10 and lines[-1].startswith("fine-tuning: 100/100 step (")
    assert "loss=0.010" in lines[-1]


def test_a_final_line_when_the_total_is_not_a_multiple(capsys):
    with progress(total=7, description="eval", unit="batch") as bar:
        for _ in range(7):
            bar.update()
    assert capsys.readouterr().err.splitlines()[-1].startswith("eval: 7/7 batch")


def test_silent_progress_prints_nothing(capsys):
    with progress(total=5, description="rank 1", unit="step", silent=True) as bar:
        for _ in range(5):
            bar.update()
            bar.set_postfix(loss="1.0")
    assert capsys.readouterr().err == ""
