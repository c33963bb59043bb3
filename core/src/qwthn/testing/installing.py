"""Install a plugin the way pip does, for tests of entry-point discovery: a *.dist-info on a sys.path folder.

`qwthn.plugins` finds backends, methods and commands through the `qwthn` entry-point group, so a test of
discovery (a plugin listed, a broken one reported, a version refused) needs real distribution metadata,
not a monkeypatched registry. The pytest plugin's `install_plugin` fixture wraps this.
"""

from __future__ import annotations

from pathlib import Path


def write_dist_info(folder: Path, distribution: str, version: str, entry_point: str, module: str) -> Path:
    """What pip leaves for an installed plugin: metadata and one entry point `entry_point = module` in `qwthn`."""
    info = folder / f"{distribution.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[qwthn]\n{entry_point} = {module}\n")
    return info
