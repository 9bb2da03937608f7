"""The shipped models: listed by `fnflight models`, each with a card, loadable weights-only, usable by name in
enhance / eval / export; bad names list the valid ones; untrusted pickles are refused."""

from __future__ import annotations

import pytest
import torch

from fnflight import models
from fnflight.cli import enhance as enhance_cli
from fnflight.cli import evaluate as eval_cli
from fnflight.cli import export as export_cli
from fnflight.cli import models as models_cli
from fnflight.model_io.checkpoint import CheckpointError, load_task

SHIPPED = models.available()


def test_every_shipped_model_has_a_card_and_loads_weights_only(capsys):
    assert {"sid", "lsd2", "kpn_burst"} <= set(SHIPPED)
    for name, path in SHIPPED.items():
        data = torch.load(path, map_location="cpu", weights_only=True)  # never unpickles code
        assert data["format"] == "fnflight-weights"
        assert path.stat().st_size < 16 * 2**20
        card = models.card(name)
        assert card.startswith(f"# {name}\n") and "## Training" in card and "| Method |" in card
        assert load_task(path).training is False
    assert models_cli.run([]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in SHIPPED)
    assert models_cli.run(["sid"]) == 0 and "# sid" in capsys.readouterr().out


def test_unknown_model_names_list_the_valid_ones(tmp_path, capsys):
    assert models_cli.run(["nope"]) == 2
    assert "valid: " in capsys.readouterr().err
    out = tmp_path / "x.png"
    assert enhance_cli.run(["model=nope", "raw=x.dng", "ratio=100", f"out={out}"]) == 2
    err = capsys.readouterr().err
    assert "no shipped model 'nope'" in err and "sid" in err and not out.exists()
    assert eval_cli.run(["model=nope", f"testset={tmp_path}"]) == 2
    assert "no shipped model 'nope'" in capsys.readouterr().err
    assert export_cli.run(["model=nope", f"out={tmp_path / 'x.onnx'}"]) == 2
    assert "no shipped model" in capsys.readouterr().err
    assert enhance_cli.run(["model=sid", "ckpt=a.pt", "raw=x.dng", "ratio=100", f"out={out}"]) == 2
    assert "not both" in capsys.readouterr().err


class _Payload:
    def __reduce__(self):  # would run code when unpickled without weights_only
        return (print, ("unpickled!",))


def test_a_checkpoint_that_needs_unpickling_is_refused(tmp_path, capsys):
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "x": _Payload()}, path)
    with pytest.raises(CheckpointError, match="would need code executed") as err:
        load_task(path)
    # never torch's hint, which would have the user run the file's code
    assert "weights_only" not in str(err.value) and "safe_globals" not in str(err.value)
    assert "unpickled!" not in capsys.readouterr().out


def test_export_a_shipped_model_to_onnx_and_pt(tmp_path, capsys):
    onnx_path = tmp_path / "lsd2.onnx"
    assert export_cli.run(["model=lsd2", f"out={onnx_path}", "size=64"]) == 0
    out = capsys.readouterr().out
    assert onnx_path.is_file() and "onnxruntime matches torch" in out
    diff = float(out.split("matches torch to ")[1].split()[0])
    assert diff <= 1e-4
    pt = tmp_path / "half.pt"
    assert export_cli.run(["model=sid", f"out={pt}", "dtype=float16"]) == 0
    assert torch.load(pt, weights_only=True)["net"]["unet.down.0.0.weight"].dtype == torch.float16
    # an unwritable destination: a clear error and no file
    blocked = tmp_path / "file"
    blocked.write_text("")
    assert export_cli.run(["model=lsd2", f"out={blocked / 'x.onnx'}", "size=32"]) == 2
    assert "cannot write" in capsys.readouterr().err
    assert not (blocked / "x.onnx").exists()
