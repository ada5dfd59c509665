"""No pickle is ever executed: a malicious file of every extension the tool reads as a generator, a teacher, a
config or a checkpoint is refused with a message, and the code it carries never runs."""
import json
import os
import pickle

import pytest

from gantransfer.cli import main


class Evil:
    """Unpickled the usual way, this runs a shell command that creates ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def write_evil(path, marker, torch_zip: bool = False) -> None:
    if torch_zip:  # the zip layout torch.save writes, with the malicious object inside its data.pkl
        import torch
        torch.save({"netG_state_dict": Evil(marker)}, path)
    else:
        with open(path, "wb") as fh:
            pickle.dump({"G_ema": Evil(marker), "g_ema": Evil(marker)}, fh)


@pytest.mark.parametrize("suffix, torch_zip", [(".pt", True), (".pth", True), (".tar", True), (".pkl", False),
                                               (".pt", False)])
@pytest.mark.parametrize("command", ["distill", "fuse", "adapt", "import"])
def test_a_malicious_pickle_is_refused_and_nothing_runs(tmp_path, capsys, suffix, torch_zip, command):
    marker = tmp_path / "pwned"
    evil = tmp_path / f"evil{suffix}"
    write_evil(evil, marker, torch_zip)
    out = str(tmp_path / "out")
    argv = {"distill": ["distill", "--teacher", str(evil), "--steps", "1", "--out", out],
            "fuse": ["fuse", "--teacher", str(evil), "--teacher", str(evil) + "x", "--steps", "1", "--out", out],
            "adapt": ["adapt", "--source", str(evil), "--data", "digits", "--steps", "1", "--out", out],
            "import": ["import", str(evil), "--out", out]}[command]
    if command == "fuse":
        write_evil(tmp_path / f"evil{suffix}x", marker, torch_zip)
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and err.strip(), err
    assert not marker.exists(), "the pickled code ran"
    assert not (tmp_path / "out" / "generator").exists()


def test_a_pickle_in_place_of_a_generator_or_checkpoint_file_is_never_unpickled(tmp_path, capsys):
    """The tool's own files are safetensors and JSON: a pickle put in their place is a corrupt file, not code."""
    marker = tmp_path / "pwned"
    assert main(["train", "--data", "ring8", "--steps", "2", "--checkpoint-every", "2", "--no-progress",
                 "--device", "cpu", "--out", str(tmp_path / "r")]) == 0
    step = json.loads((tmp_path / "r" / "state" / "latest.json").read_text())["dir"]
    for victim in (tmp_path / "r" / "generator" / "model.safetensors",
                   tmp_path / "r" / "state" / step / "tensors.safetensors"):
        write_evil(victim, marker)
    assert main(["sample", str(tmp_path / "r"), "--n", "4", "--out", str(tmp_path / "s.png")]) == 2
    assert main(["train", "--data", "ring8", "--steps", "4", "--no-progress", "--device", "cpu",
                 "--out", str(tmp_path / "r"), "--resume"]) == 2
    err = capsys.readouterr().err
    assert "corrupt" in err or "does not match the checksum" in err
    assert not marker.exists()


def test_the_malicious_fixture_really_runs_code_when_unpickled_the_usual_way(tmp_path):
    marker = tmp_path / "live"
    write_evil(tmp_path / "evil.pkl", marker)
    with open(tmp_path / "evil.pkl", "rb") as fh:
        pickle.load(fh)  # the naive loader: the check above would mean nothing if this did not run the command
    assert marker.exists()
