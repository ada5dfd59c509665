"""`gantransfer report`: a page per run written by the runner, a comparison page, the reproduce command, bad input."""
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from gantransfer.cli import build_parser, config_from_args, main
from gantransfer.config import AdaptConfig, DistillConfig, FuseConfig, TrainConfig, to_dict
from gantransfer.report.format import number, parse_metric_key, si
from gantransfer.report.runs import config_class, load_run, reproduce_command
from gantransfer.tasks.adapt import adapt
from gantransfer.tasks.distill import distill
from gantransfer.tasks.fuse import fuse
from gantransfer.tasks.train import train

FAST = dict(batch_size=16, progress=False)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Tiny runs of every kind. Made before the conftest turns the runner's report off for each test, so each
    writes its report at the end as outside the tests."""
    root = tmp_path_factory.mktemp("runs")
    teacher = train(TrainConfig(data="digits", classes=[0, 1, 2], width=0.25, steps=4, eval_every=2, eval_n=100,
                                out=str(root / "teacher"), **FAST))
    cond = train(TrainConfig(data="digits", conditional=True, width=0.25, steps=2, out=str(root / "cond"), **FAST))
    d = distill(DistillConfig(teacher=str(teacher), width=0.125, steps=3, eval_n=100, out=str(root / "distill"),
                              **FAST))
    d2 = distill(DistillConfig(teacher=str(teacher), width=0.2, terms="pixel=1", steps=3, eval_n=100,
                               out=str(root / "distill-wide"), **FAST))
    f = fuse(FuseConfig(teachers=[str(teacher), str(cond)], width=0.25, steps=2, eval_n=100, out=str(root / "fuse"),
                        **FAST))
    a = adapt(AdaptConfig(sources=[str(teacher)], data="digits", classes=[5], limit=12, method="finetune", steps=4,
                          eval_every=2, eval_n=100, held_out=100, out=str(root / "adapt"), **FAST))
    return {"teacher": teacher, "cond": cond, "distill": d, "distill-wide": d2, "fuse": f, "adapt": a}


class Page(HTMLParser):
    """The images, table rows and text of a page."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.images, self.rows, self.links, self.text = [], 0, [], []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.images.append(a["src"])
        if tag == "a" and not a.get("href", "").startswith("#"):
            self.links.append(a["href"])

    def handle_data(self, data):
        self.text.append(data)


def check_page(path: Path) -> Page:
    """Every image beside the page, nothing from the network, no raw figures (``70.1000``, ``params_reduction``)."""
    text = path.read_text()
    page = Page(text)
    assert page.images
    for src in page.images + page.links:
        assert not re.match(r"^[a-z]+://", src), src
        assert (path.parent / src).is_file(), src
    words = " ".join(page.text)
    assert "params_reduction" not in words and "macs_reduction" not in words
    assert not re.search(r"\d\.\d*0(?![\d.])", words.replace("1.0.0", "")), re.findall(r"\S*\d\.\d*0(?![\d.])\S*", words)
    return page


def test_figures_in_words():
    assert number(70.1) == "70.1" and number(70.1000) == "70.1" and number(2.0) == "2"
    assert number(1234567) == "1,234,567" and number(0.0008213) == "0.000821" and number(53.14) == "53.1"
    assert si(1_070_000) == "1.07 M" and si(346_000) == "346 k"
    k = parse_metric_key("precision/digits-classifier-v1/100/k5")
    assert (k.metric, k.protocol, k.n, k.option, k.better) == ("precision", "digits-classifier-v1", "100", "k5", "higher")
    assert parse_metric_key("fid/fashion-mnist-classifier-v1/10k").where == "fashion-mnist-classifier-v1, 10k samples"
    assert parse_metric_key("psnr") is None


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["teacher", "cond", "distill", "fuse", "adapt"])
def test_the_reproduce_command_gives_the_same_config(runs, kind):
    run = load_run(runs[kind])
    argv = reproduce_command(run).split()
    assert argv[:2] == ["gantransfer", run.command]
    args = build_parser().parse_args([a.strip("'") for a in argv[1:]])
    extra = {"fuse": {"teachers": getattr(args, "teacher", None)},
             "adapt": {"sources": getattr(args, "source", None)}}.get(run.command)
    cls = config_class(run.command)
    again = json.loads(json.dumps(to_dict(config_from_args(cls, args, extra))))
    assert again == run.config


@pytest.mark.slow
def test_a_distillation_writes_its_report_at_the_end(runs):
    report = runs["distill"] / "report"
    page = check_page(report / "index.html")
    text = " ".join(page.text)
    assert "teacher_vs_student.png" in page.images
    assert any(src.startswith("samples-step-") for src in page.images) and "loss-curves.png" in page.images
    assert "Protocol: digits-classifier-v1, 100 samples" in text and "ratio: student / teacher" in text
    assert re.search(r"FID \u2193", text) and ("better" in text or "worse" in text)
    assert "multiply-accumulates per sample" in text and "samples/s" in text and " ms" in text
    assert f"gantransfer distill" in text and "--width 0.125" in text
    marker = json.loads((report / "report.json").read_text())
    assert marker["kind"] == "gantransfer report" and "index.html" in marker["files"]
    assert load_run(runs["distill"]).evaluation["student"]  # the run itself is untouched


@pytest.mark.slow
def test_each_kind_shows_its_own_grids(runs, tmp_path, capsys):
    assert main(["report", str(runs["cond"]), "--out", str(tmp_path / "c"), "--no-bench"]) == 0
    assert str(tmp_path / "c" / "index.html") in capsys.readouterr().out
    page = check_page(tmp_path / "c" / "index.html")
    assert sum(src.startswith("label-") for src in page.images) == 10  # per label
    assert main(["report", str(runs["fuse"]), "--out", str(tmp_path / "f"), "--no-bench"]) == 0
    page = check_page(tmp_path / "f" / "index.html")
    assert {"teacher-0.png", "teacher-1.png"} <= set(page.images)  # per teacher
    assert "teachers' mixture" in " ".join(page.text) and "Against the teachers" in " ".join(page.text)
    assert main(["report", str(runs["adapt"]), "--out", str(tmp_path / "a"), "--no-bench"]) == 0
    page = check_page(tmp_path / "a" / "index.html")
    assert {"training-images.png", "adapted-samples.png", "nearest-training-images.png"} <= set(page.images)
    assert "share of near-copies of a training image" in " ".join(page.text)
    assert main(["report", str(runs["teacher"]), "--out", str(tmp_path / "t"), "--no-bench"]) == 0
    text = " ".join(check_page(tmp_path / "t" / "index.html").text)
    assert "Last evaluation during training (step 4)" in text and "eval-curves.png" in \
        (tmp_path / "t" / "index.html").read_text()


@pytest.mark.slow
def test_several_runs_are_compared_row_by_row(runs, tmp_path, capsys):
    out = tmp_path / "cmp"
    assert main(["report", str(runs["distill"]), str(runs["distill-wide"]), "--out", str(out)]) == 0
    assert str(out / "index.html") in capsys.readouterr().out
    html = (out / "index.html").read_text()
    page = check_page(out / "index.html")
    assert {"distill/index.html", "distill-wide/index.html"} <= set(page.links)
    body = html.split('<table class="sortable cards">', 1)[1].split("</table>", 1)[0]
    assert body.count("<tr>") == 3  # the header and one row per run
    assert "width" in body and "terms" in body  # what differs between them
    assert "<script>" in html and "http" not in html.split("<script>", 1)[1]
    for name in ("distill", "distill-wide"):
        check_page(out / name / "index.html")


@pytest.mark.slow
def test_runs_of_different_data_sets_are_compared_with_a_warning(runs, tmp_path, capsys):
    from gantransfer.demo import TEACHERS, shipped_teacher
    other = distill(DistillConfig(teacher=str(shipped_teacher(TEACHERS["unconditional"])), width=0.125, steps=1,
                                  eval_n=0, out=str(tmp_path / "fm"), **FAST))
    with pytest.warns(UserWarning, match=r"different data sets \(digits, fashion-mnist\).*not comparable"):
        assert main(["report", str(runs["distill"]), str(other), "--out", str(tmp_path / "r"), "--no-bench"]) == 0
    assert "not comparable" in (tmp_path / "r" / "index.html").read_text()


@pytest.mark.slow
def test_bad_input_is_refused_with_what_a_run_holds(runs, tmp_path, capsys):
    (tmp_path / "notarun").mkdir()
    assert main(["report", str(tmp_path / "notarun"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "not a gantransfer run" in err and "run.json" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()
    assert main(["report", str(runs["cond"]), str(runs["teacher"])]) == 2
    assert "several runs need --out" in capsys.readouterr().err
    assert main(["report", str(runs["cond"]), "--out", str(runs["teacher"])]) == 2
    assert "is a run directory" in capsys.readouterr().err
    assert main(["report", str(runs["cond"]), "--out", str(runs["teacher"] / "report")]) == 2
    assert "report folder of the run" in capsys.readouterr().err
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    assert main(["report", str(runs["cond"]), "--out", str(mine)]) == 2
    assert "holds other files" in capsys.readouterr().err and (mine / "notes.txt").read_text() == "keep"
    assert list(mine.iterdir()) == [mine / "notes.txt"] and not list(tmp_path.glob(".*report-*"))


@pytest.mark.slow
def test_an_earlier_report_is_replaced_and_only_its_files(runs, tmp_path):
    out = tmp_path / "r"
    assert main(["report", str(runs["cond"]), str(runs["teacher"]), "--out", str(out), "--no-bench"]) == 0
    assert (out / "cond" / "index.html").is_file()
    (out / "mine.txt").write_text("keep")
    assert main(["report", str(runs["teacher"]), "--out", str(out), "--no-bench"]) == 0
    assert not (out / "cond").exists() and (out / "mine.txt").read_text() == "keep"
    assert json.loads((out / "report.json").read_text())["runs"] == [str(runs["teacher"])]


@pytest.mark.run_report
def test_a_report_that_fails_never_fails_the_finished_run(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise KeyError("something the report did not expect")
    monkeypatch.setattr("gantransfer.report.build.run_page", broken)
    with pytest.warns(UserWarning, match="report was not written .*KeyError.*gantransfer report"):
        run = train(TrainConfig(data="digits", width=0.25, steps=1, out=str(tmp_path / "t"), **FAST))
    assert (run / "generator" / "config.json").is_file() and not (run / "report").exists()
    assert not list(tmp_path.glob(".*report-*"))  # the temporary folder is gone


def test_a_mixed_part_of_an_evaluation_is_shown_as_tables_not_bare_headings():
    from gantransfer.report.page import render_value
    html = render_value("teacher_relative", {"n": 500, "fd": 0.68, "two_sample": {"accuracy": 0.79, "ci95": [0.78, 0.8]},
                                             "space": {"method": "simclr-v2", "cached": False}})
    assert "Against the teacher, with no pretrained network" in html and "Two-sample test" in html
    assert "<h3>Fd</h3>" not in html and "<h3>N</h3>" not in html  # figures sit in tables
    assert html.count("<table") == 3 and "0.78, 0.8" in html
