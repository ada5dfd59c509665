"""Report pages of translator runs: rows input | teacher | student (| ground truth) on fixed held-out inputs, not
noise-sample grids; the rows hook any translator task calls (``report/translation_rows.py``)."""
import json

import pytest
import torch
from PIL import Image

from conftest import run_cli
from gantransfer.report.translation_rows import IMAGE, RECORD, rows_record, save_translation_rows
from test_distill_translator import distill_argv, make_inputs, make_teacher
from test_report import check_page


@pytest.mark.run_report
def test_the_report_of_a_translator_distillation_shows_input_teacher_student_rows(tmp_path, capsys):
    teacher, data = make_teacher(tmp_path), make_inputs(tmp_path)
    run = tmp_path / "run"
    code, _, err = run_cli(capsys, *distill_argv(teacher, data, run, "--terms", "pixel=1"))
    assert code == 0, err
    record = json.loads((run / "report" / RECORD).read_text())
    assert record["rows"] == ["input", "teacher", "student"] and record["n"] == 8  # the first 8 of the 10 held out
    assert record["inputs"].startswith("held-out inputs")
    with Image.open(run / "report" / IMAGE) as im:  # 3 rows of 8 images of 32 px, padded by 2, scaled by 2
        assert im.size == (((32 + 2) * 8 + 2) * 2, ((32 + 2) * 3 + 2) * 2)
    page = check_page(run / "report" / "index.html")  # written by the runner at the end
    text = " ".join(page.text)
    assert IMAGE in page.images and "teacher_vs_student.png" not in page.images
    assert "Translations of held-out inputs" in text and "rows: input | teacher | student, on 8 held-out" in text
    assert "same latents" not in text and "Distilled the translator teacher into a resnet translator of ngf 2" in text
    assert any(src.startswith("samples-step-") for src in page.images)
    assert "rows input | teacher | student on fixed inputs" in text


def test_rows_show_ground_truth_when_known_and_refuse_mismatched_rows(tmp_path):
    x = torch.rand(4, 1, 16, 16) * 2 - 1
    y = torch.rand(4, 3, 16, 16) * 2 - 1
    save_translation_rows(tmp_path, [("input", x), ("output", y), ("ground truth", y)])
    record = rows_record(tmp_path)
    assert record["rows"] == ["input", "output", "ground truth"] and record["n"] == 4
    with Image.open(tmp_path / "report" / IMAGE) as im:
        assert im.mode == "RGB" and im.size[1] == ((16 + 2) * 3 + 2) * 2  # the 1-channel input shown in RGB
    with pytest.raises(ValueError, match="every row needs"):
        save_translation_rows(tmp_path, [("input", x), ("output", y[:3])])
    (tmp_path / "report" / RECORD).write_text('{"rows": "input"}')  # damaged: the page leaves the figure out
    assert rows_record(tmp_path) is None
