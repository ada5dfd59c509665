"""The architecture: model families as a registry, the Generator contract, config formats and their migration,
the typed configs (aliases, help beside each field, flags that do not apply), and a light, cycle-free import graph."""
import ast
import dataclasses
import json
import resource
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from gantransfer.cli import main
from conftest import run_cli
from gantransfer.config import AdaptConfig, DistillConfig, TrainConfig, from_dict, help_of
from gantransfer.errors import CheckpointError, ConfigError
from gantransfer.models import family as family_module
from gantransfer.models.contract import Generator, LoadedGenerator
from gantransfer.models.dcgan import DCGANDiscriminator, DCGANGenerator, DCGANOptions
from gantransfer.models.family import Capabilities, ModelFamily, family, family_names, register
from gantransfer.models.migrate import upgrade_discriminator, upgrade_generator
from gantransfer.models.config import FORMAT_VERSION, GeneratorConfig, build_generator
from gantransfer.models.store import load_config, load_generator, save_generator
from gantransfer.tasks.distill import distill
from gantransfer.tasks.train import train
from gantransfer.deploy.backends import backend_names
from gantransfer.deploy.formats import FORMATS, ExportFormat, register_format
from gantransfer.deploy.runtime import is_exported, open_exported
from gantransfer.engine.terms import LossTerm
from gantransfer.io import read_tensors
from gantransfer.models.contract import ConfiguredGenerator
from gantransfer.models.importers import IMPORTERS, Imported, Importer, register_importer
from gantransfer.task_registry import TASKS, Task, register_task
from gantransfer.teachers import load_teacher
from gantransfer.term_registry import TERMS, MatchingTerm, register_term
from gantransfer.typed import setting

SRC = Path(__file__).resolve().parents[1] / "src" / "gantransfer"
SHIPPED_TEACHER = SRC / "assets" / "teachers" / "fashion-mnist-dcgan"




# ---- families -------------------------------------------------------------------------------------------------
def test_every_builtin_family_declares_options_builders_and_capabilities():
    assert {"dcgan", "mlp", "minegan"} <= set(family_names())
    dcgan, mlp, mined = family("dcgan"), family("mlp"), family("minegan")
    assert dcgan.kind == "image" and mlp.kind == "points" and mined.kind == "image"
    assert dcgan.capabilities.feature_taps and dcgan.capabilities.discriminator_blocks
    assert not mlp.capabilities.feature_taps and not mlp.capabilities.discriminator_blocks
    assert mined.build_discriminator is None and not mined.capabilities.labels
    with pytest.raises(ValueError, match="unknown architecture 'nope'; choose one of"):
        family("nope")
    # the declared feature taps are the resolutions forward_features really gives
    for start in (4, 8):
        cfg = GeneratorConfig(resolution=32, width=0.25, options=DCGANOptions(start_resolution=start))
        _, feats = build_generator(cfg).forward_features(torch.randn(2, 100))
        assert [f.shape[-1] for f in feats] == dcgan.feature_resolutions(cfg) == [r for r in (4, 8, 16) if r >= start]


def test_options_are_typed_and_validated_per_family():
    with pytest.raises(ConfigError, match="unknown config field.*'depth'"):
        GeneratorConfig(options={"depth": 3})
    with pytest.raises(ValueError, match="conditioning must be one of"):
        build_generator(GeneratorConfig(options=DCGANOptions(conditioning="film")))
    with pytest.raises(ValueError, match="cannot be class-conditional"):
        GeneratorConfig(arch="minegan", num_classes=3, options={"sources": [GeneratorConfig().to_dict()]}).validate()


@dataclass
class TinyOptions:
    hidden: int = 8


class TinyGenerator(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.net = torch.nn.Linear(cfg.latent_dim, cfg.channels * cfg.resolution ** 2)
        self.shape = (cfg.channels, cfg.resolution, cfg.resolution)

    def forward(self, z, labels=None):
        return torch.tanh(self.net(z)).view(-1, *self.shape)


def test_a_new_family_plugs_in_by_registering_alone(tmp_path):
    """A family registered from outside the package: its configs round-trip, it saves, loads and is distilled into,
    with capabilities asked of the registry (no feature taps: the feature term is refused with the reason)."""
    register(ModelFamily(name="tiny-test", kind="image", options=TinyOptions, capabilities=Capabilities(),
                         build_generator=TinyGenerator,
                         build_discriminator=lambda d: DCGANDiscriminator(d.resolution, d.channels, 0.125)))
    try:
        cfg = GeneratorConfig(arch="tiny-test", latent_dim=100, resolution=32, options={"hidden": 4})
        assert isinstance(cfg.options, TinyOptions) and cfg.options.hidden == 4
        assert GeneratorConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
        run = distill(DistillConfig(teacher=str(SHIPPED_TEACHER), student_arch="tiny-test", width=0.25,
                                    terms="pixel=1,adversarial=0.1", steps=2, eval_n=0, progress=False,
                                    device="cpu", out=str(tmp_path / "s")))
        g, scfg = load_generator(run)
        assert scfg.arch == "tiny-test" and isinstance(g, TinyGenerator) and scfg.options == TinyOptions()
        with pytest.raises(ConfigError, match="needs a student that exposes its hidden layers"):
            distill(DistillConfig(teacher=str(SHIPPED_TEACHER), student_arch="tiny-test", terms="pixel=1,feature=1",
                                  steps=1, eval_n=0, progress=False, device="cpu", out=str(tmp_path / "f")))
    finally:
        family_module._REGISTRY.pop("tiny-test", None)


# ---- the other extension points: each registered from outside the package, as docs/architecture.md says ----
class MeanGap(LossTerm):
    """A toy matching term: the gap between the mean brightness of student and teacher images."""

    name = "mean-gap"

    def compute(self, ctx):
        return (ctx["student"].mean() - ctx["teacher"].mean()).abs()


def test_a_new_matching_term_plugs_in_by_registering_alone(tmp_path):
    register_term(MatchingTerm("mean-gap", lambda weight, student, perceptual: (MeanGap(weight), {})))
    try:
        run = distill(DistillConfig(teacher=str(SHIPPED_TEACHER), width=0.125, terms="pixel=1,mean-gap=0.5", steps=2,
                                    eval_n=0, progress=False, device="cpu", out=str(tmp_path / "s")))
        logged = [json.loads(line) for line in (run / "logs" / "metrics.jsonl").read_text().splitlines()]
        assert any("loss/G/mean-gap" in r for r in logged) and any("loss/G/pixel" in r for r in logged)
    finally:
        TERMS.unregister("mean-gap")
    with pytest.raises(ConfigError, match="unknown loss term 'mean-gap'"):
        DistillConfig(teacher="t", terms="mean-gap=1").validate()


class SafetensorsRuntime(ConfiguredGenerator):
    """The runtime of the toy format: the family's module rebuilt from the file's weights and config."""

    def __init__(self, path, threads=None, spin=False):
        from safetensors import safe_open
        with safe_open(str(path), "pt") as f:
            self.config = GeneratorConfig.from_dict(json.loads(f.metadata()["config"]))
        self.module = build_generator(self.config).eval()
        self.module.load_state_dict(read_tensors(path))

    def __call__(self, z, labels=None):
        with torch.inference_mode():
            return self.module(z, labels)


def write_safetensors(prepared, cfg, out, report, reference, options):
    from gantransfer.io import write_tensors
    write_tensors(out, load_generator(report["source"])[0].state_dict(), {"config": json.dumps(cfg.to_dict())})
    report["parity"] = {"max_abs_error": 0.0}


def test_a_new_export_format_plugs_in_by_registering_alone(tmp_path, capsys):
    register_format(ExportFormat("toy-safetensors", (".gts",), write=write_safetensors,
                                 detect=lambda p: p.suffix == ".gts", open=SafetensorsRuntime,
                                 backends={"toy-safetensors": False}))
    try:
        out = tmp_path / "g.gts"
        assert main(["export", str(SHIPPED_TEACHER), "--format", "toy-safetensors", "--out", str(out)]) == 0
        assert is_exported(out) and isinstance(open_exported(out), SafetensorsRuntime)
        g, _ = load_generator(SHIPPED_TEACHER)
        z = torch.randn(2, 100)
        assert torch.equal(open_exported(out)(z), g(z))
        assert main(["sample", str(out), "--n", "4", "--out", str(tmp_path / "s.png")]) == 0
        assert "toy-safetensors" in backend_names()
        code, _, err = run_cli(capsys, "export", str(SHIPPED_TEACHER), "--format", "toy-safetensors", "--out",
                               str(tmp_path / "g.onnx"))
        assert code == 2 and "does not end in .gts" in err
    finally:
        FORMATS.unregister("toy-safetensors")
    assert not is_exported(tmp_path / "g.gts")


def test_a_new_importer_plugs_in_by_registering_alone(tmp_path, capsys):
    g, cfg = load_generator(SHIPPED_TEACHER)
    torch.save({"toy_weights": g.state_dict(), "toy_config": json.dumps(cfg.to_dict())}, tmp_path / "toy.pt")

    def load(path, dataset, loaded):
        tcfg = GeneratorConfig.from_dict(json.loads(loaded["toy_config"]))
        module = build_generator(tcfg)
        module.load_state_dict(loaded["toy_weights"])
        return Imported(module.eval(), tcfg)
    register_importer(Importer("toy", detect=lambda path, loaded: isinstance(loaded, dict) and "toy_config" in loaded,
                               load=load))
    try:
        assert main(["import", str(tmp_path / "toy.pt"), "--out", str(tmp_path / "imported")]) == 0
        g2, cfg2 = load_generator(tmp_path / "imported")
        z = torch.randn(2, 100)
        assert torch.equal(g2(z), g(z)) and load_teacher(tmp_path / "toy.pt").config == cfg
    finally:
        IMPORTERS.unregister("toy")
    code, _, err = run_cli(capsys, "import", str(tmp_path / "toy.pt"), "--out", str(tmp_path / "again"))
    assert code == 2 and "holds no generator state dict" in err and "nor is it a rosinality" in err


@dataclass
class ToyTaskConfig(TrainConfig):
    greeting: str = setting("hello", "what the toy task says")


def test_a_new_task_plugs_in_by_registering_alone(capsys):
    import gantransfer
    register_task(Task("toy-task", ToyTaskConfig, lambda cfg, resume=False, overwrite=False: cfg.greeting,
                       "a toy task", "A task registered from outside the package."))
    try:
        code, out, _ = run_cli(capsys, "toy-task", "--data", "ring8", "--greeting", "hi", "--dry-run")
        assert code == 0 and json.loads(out)["greeting"] == "hi"
        assert gantransfer.ToyTaskConfig is ToyTaskConfig and gantransfer.toy_task(ToyTaskConfig()) == "hello"
    finally:
        TASKS.unregister("toy-task")


def test_the_streaming_statistics_share_one_protocol():
    from gantransfer.metrics.evaluate import FeatureAccumulator
    from gantransfer.metrics.fid import RunningStats
    from gantransfer.metrics.reference_stats import ReferenceAccumulator
    from gantransfer.metrics.streaming import Accumulator
    for cls in (RunningStats, FeatureAccumulator, ReferenceAccumulator):
        assert callable(getattr(cls, "update")) and callable(getattr(cls, "result")), cls
    rs = RunningStats(3)
    rs.update(torch.arange(12.0).view(4, 3))
    assert isinstance(rs, Accumulator) and torch.equal(rs.result()[0], rs.stats()[0])


def test_one_opener_for_directories_and_exported_files(tmp_path):
    from gantransfer.api import open_generator as api_open
    from gantransfer.deploy.opener import open_generator
    g, cfg = open_generator(SHIPPED_TEACHER)
    assert isinstance(g, DCGANGenerator) and not g.training and cfg == load_config(SHIPPED_TEACHER)
    fast, fcfg = api_open(SHIPPED_TEACHER)  # the API's: prepared for inference (batch norm folded)
    z = torch.randn(4, 100)
    assert fcfg == cfg and (fast(z) - g(z)).abs().max() < 1e-5
    assert main(["export", str(SHIPPED_TEACHER), "--format", "torchscript", "--out", str(tmp_path / "t.pt")]) == 0
    with pytest.raises(CheckpointError, match="TorchScript archive"):  # code: opened only when trusted
        open_generator(tmp_path / "t.pt")
    from gantransfer.trust import trusting
    with trusting(code=True):
        ts, tcfg = open_generator(tmp_path / "t.pt")
    assert tcfg.latent_dim == 100 and (ts(z) - g(z)).abs().max() < 1e-4


def test_student_arch_must_be_an_image_family_with_a_discriminator(tmp_path, capsys):
    code, _, err = run_cli(capsys, "distill", "--teacher", str(SHIPPED_TEACHER), "--student-arch", "mlp",
                           "--steps", "1", "--out", str(tmp_path / "s"))
    assert code == 2 and "--student-arch mlp cannot be trained as a student" in err
    code, _, err = run_cli(capsys, "distill", "--teacher", str(SHIPPED_TEACHER), "--student-arch", "vae",
                           "--out", str(tmp_path / "s"))
    assert code == 2 and "student_arch must be one of" in err
    assert not (tmp_path / "s").exists()


# ---- the Generator contract -----------------------------------------------------------------------------------
class ContractOnly:
    """Not a module: just the contract (e.g. an exported model run by a runtime)."""

    latent_dim, num_classes, sample_shape, value_range = 16, 0, (1, 16, 16), (-1.0, 1.0)

    def __init__(self):
        self.w = torch.randn(16, 256, generator=torch.Generator().manual_seed(0))

    def __call__(self, z, labels=None):
        return torch.tanh(z @ self.w).view(-1, 1, 16, 16)


def test_loaded_generators_teachers_and_plain_objects_meet_the_contract(tmp_path):
    from gantransfer.teachers import load_teacher
    g, cfg = load_generator(SHIPPED_TEACHER)
    loaded, teacher = LoadedGenerator(g, cfg), load_teacher(SHIPPED_TEACHER)
    for obj in (loaded, teacher, ContractOnly()):
        assert isinstance(obj, Generator)
    assert loaded.sample_shape == teacher.sample_shape == (1, 32, 32) and loaded.value_range == (-1.0, 1.0)
    z = torch.randn(3, 100)
    assert torch.equal(loaded(z), teacher(z))
    run = distill(DistillConfig(width=0.125, terms="pixel=1", steps=2, eval_n=0, progress=False, device="cpu",
                                out=str(tmp_path / "c")), teacher=ContractOnly())
    scfg = load_config(run)
    assert (scfg.latent_dim, scfg.resolution, scfg.channels) == (16, 16, 1)
    assert json.loads((run / "run.json").read_text())["white_box"] is False


# ---- formats and migration ------------------------------------------------------------------------------------
V1_PLAIN = {"kind": "generator", "arch": "dcgan", "latent_dim": 100, "resolution": 32, "channels": 1, "width": 0.5,
            "num_classes": 0, "class_names": ["a", "b"], "dataset": "fashion-mnist", "data_range": [-1.0, 1.0],
            "conditioning": "embed", "start_resolution": 8, "mixture": [], "sources": [], "miner_hidden": 128,
            "format_version": 1, "meta": {"classes": [0, 1], "data_dir": None, "train_steps": 5}}


def test_version_1_configs_are_migrated_field_by_field():
    plain = GeneratorConfig.from_dict(upgrade_generator(V1_PLAIN))
    assert plain.format_version == FORMAT_VERSION and plain.options == DCGANOptions(start_resolution=8)
    assert plain.trained_classes == [0, 1] and plain.meta == {"data_dir": None, "train_steps": 5}
    fused = {**V1_PLAIN, "num_classes": 2, "class_names": ["t0", "t1"], "meta": {
        "teachers": ["a/run", "b/run"], "teacher_names": ["a", "b"], "labels": "teacher", "weights": [0.6, 0.4],
        "data_classes": [0, 1, 2], "label_weights": [0.6, 0.4, 0.0, 0.0]}}  # version 1 padded them
    f = GeneratorConfig.from_dict(upgrade_generator(fused))
    f.validate()
    assert f.fusion.mode == "teacher" and f.fusion.teacher_names == ["a", "b"] and f.fusion.weights == [0.6, 0.4]
    assert f.label_weights == [0.6, 0.4] and f.data_classes == [0, 1, 2] and f.meta == {}
    baseline = {**V1_PLAIN, "meta": {"teachers": ["a", "b"], "teacher_names": ["a", "b"], "weights": [0.5, 0.5],
                                     "baseline_samples": 200}}
    b = GeneratorConfig.from_dict(upgrade_generator(baseline))
    assert b.fusion.mode == "baseline" and b.fusion.samples == 200
    mined = {**V1_PLAIN, "latent_dim": 101, "sources": [V1_PLAIN, V1_PLAIN], "miner_hidden": 64}
    m = GeneratorConfig.from_dict(upgrade_generator(mined))
    assert m.arch == "minegan" and m.options.hidden == 64 and len(m.options.source_configs()) == 2
    assert m.options.source_configs()[0].options.start_resolution == 8
    assert build_generator(m).latent_dim == 101
    d = upgrade_discriminator({"kind": "discriminator", "width": 0.5, "generator": {**V1_PLAIN, "num_classes": 3}})
    assert d == {"arch": "dcgan", "resolution": 32, "channels": 1, "width": 0.5, "num_classes": 3,
                 "format_version": FORMAT_VERSION}


def test_version_2_meta_keys_become_typed_fields(tmp_path):
    """Version 2 wrote a student's latent space and its losses' networks into meta; they load as fields."""
    g, cfg = load_generator(SHIPPED_TEACHER)
    save_generator(g, cfg, tmp_path / "v2")
    raw = json.loads((tmp_path / "v2" / "config.json").read_text())
    raw = {k: v for k, v in raw.items() if k not in ("latent_space", "loss_networks")}
    raw.update(format_version=2, meta={**raw["meta"], "latent_space": "z", "loss_networks": ["digits-perceptual-v1"]})
    (tmp_path / "v2" / "config.json").write_text(json.dumps(raw))
    old = load_config(tmp_path / "v2")
    assert old.latent_space == "z" and old.loss_networks == ["digits-perceptual-v1"]
    assert "latent_space" not in old.meta and "loss_networks" not in old.meta and old.format_version == FORMAT_VERSION
    assert GeneratorConfig().latent_space is None and GeneratorConfig().loss_networks == []


def test_shipped_version_1_assets_load_and_unknown_versions_are_refused(tmp_path):
    raw = json.loads((SHIPPED_TEACHER / "config.json").read_text())
    assert raw["format_version"] == 1  # the shipped files are left as they are and migrated on load
    cfg = load_config(SHIPPED_TEACHER)
    assert cfg.format_version == FORMAT_VERSION and cfg.trained_classes == list(range(10))
    assert "classes" not in cfg.meta and cfg.meta["training"]["command"].startswith("gantransfer train")
    g, _ = load_generator(SHIPPED_TEACHER)
    save_generator(g, cfg, tmp_path / "v2")  # written in the current format, read back the same
    assert json.loads((tmp_path / "v2" / "config.json").read_text())["format_version"] == FORMAT_VERSION
    assert load_config(tmp_path / "v2") == cfg
    for version, needle in ((FORMAT_VERSION + 1, "newer than this gantransfer reads"), ("2", "expected an integer")):
        (tmp_path / "v2" / "config.json").write_text(json.dumps({**raw, "format_version": version}))
        with pytest.raises(CheckpointError, match=needle):
            load_config(tmp_path / "v2")


# ---- configs and the command line -----------------------------------------------------------------------------
def test_engine_settings_are_declared_once_with_help_beside_each_field():
    from gantransfer.engine.settings import EngineSettings
    engine = {f.name for f in dataclasses.fields(EngineSettings)}
    for cls in (TrainConfig, DistillConfig, AdaptConfig):
        assert issubclass(cls, EngineSettings) and engine <= {f.name for f in dataclasses.fields(cls)}
        for f in dataclasses.fields(cls):
            assert help_of(cls, f.name) != f.name.replace("_", " "), f"{cls.__name__}.{f.name} has no help text"
    assert help_of(DistillConfig, "steps") == help_of(EngineSettings, "steps")  # overridden default, same help
    assert DistillConfig().d_lr_ratio == 0.2 and TrainConfig().d_lr_ratio == 1.0 and AdaptConfig().lr == 5e-4


def test_old_names_are_aliases_with_a_deprecation_warning(tmp_path, capsys):
    with pytest.warns(FutureWarning, match="'loss' is now called 'terms'"):
        cfg = from_dict(DistillConfig, {"teacher": "t", "loss": "pixel=1", "dataset": "digits"})
    assert cfg.terms == "pixel=1" and cfg.teacher_data == "digits"
    with pytest.raises(ConfigError, match="keep only 'adversarial_loss'"):
        from_dict(TrainConfig, {"loss": "hinge", "adversarial_loss": "hinge"})
    proc = subprocess.run([sys.executable, "-m", "gantransfer", "train", "--data", "ring8", "--loss", "hinge",
                           "--dry-run"], capture_output=True, text=True)
    assert proc.returncode == 0 and json.loads(proc.stdout)["adversarial_loss"] == "hinge"
    assert "gantransfer train: warning: 'loss' is now called 'adversarial_loss' (--adversarial-loss)" in proc.stderr


@pytest.mark.parametrize("argv, needle", [
    (["adapt", "--source", "S", "--data", "digits", "--l2sp", "0.1"], "--l2sp applies only to --method l2sp"),
    (["adapt", "--source", "S", "--data", "digits", "--method", "freezed", "--selector-lr", "0.1"],
     "--selector-lr applies only to --method minegan"),
    (["distill", "--teacher", "T", "--latent-dim", "8"], "--latent-dim applies only to --teacher-module"),
    (["distill", "--teacher", "T", "--terms", "pixel=1", "--perceptual-net", "classifier"],
     "--perceptual-net applies only with a perceptual term"),
    (["distill", "--teacher", "T", "--eval-every", "5"], "--eval-every does not apply"),
    (["fuse", "--teacher", "A", "--teacher", "B", "--unconditional", "--conditioning", "affine"],
     "--conditioning does not apply with --unconditional"),
    (["fuse", "--teacher", "A", "--teacher", "A"], "the same teacher is given twice"),
    (["train", "--data", "ring8", "--eval-n", "500"], "--eval-n is used only with --eval-every"),
    (["eval", "G", "--teachers", "A,B", "--classes", "0"], "--classes does not apply with --teachers"),
    (["baseline", "--teacher", "A", "--teacher", "B", "--n", "1"], "n must be at least 2"),
    (["train", "--data", "ring8", "--lr", "nan"], "must be a finite number"),
])
def test_flags_that_do_not_apply_or_make_no_sense_are_errors(tmp_path, capsys, argv, needle):
    code, _, err = run_cli(capsys, *argv, *([] if argv[0] == "eval" else ["--dry-run"]))
    assert code == 2 and needle in err and "Traceback" not in err, err


def test_baseline_has_a_config_that_dry_run_shows_and_resume_checks(tmp_path, capsys):
    code, out, _ = run_cli(capsys, "baseline", "--teacher", "A", "--teacher", "B", "--n", "300", "--dry-run")
    shown = json.loads(out)
    assert code == 0 and shown["teachers"] == ["A", "B"] and shown["n"] == 300 and shown["lr"] == 2e-4
    code, _, err = run_cli(capsys, "baseline", "--teacher", "A", "--teacher", "B", "--data", "digits", "--dry-run")
    assert code == 2 and "unrecognized arguments: --data" in err


def test_optimizer_settings_are_config_fields(tmp_path):
    run = train(TrainConfig(data="ring8", steps=2, betas=[0.1, 0.8], d_lr_ratio=0.5, weight_decay=1e-4, lr=1e-3,
                            checkpoint_every=2, progress=False, device="cpu", out=str(tmp_path / "t")))
    state = json.loads(next((run / "state").glob("step-*/state.json")).read_text())
    g, d = (state["optimizers"][k]["param_groups"][0] for k in ("G", "D"))
    assert g["betas"] == [0.1, 0.8] and g["weight_decay"] == 1e-4 and g["lr"] == 1e-3 and d["lr"] == 5e-4


# ---- imports ----------------------------------------------------------------------------------------------------
# The floors, lowest first: a module imports only from its own floor or lower ones (inside functions too), and the
# graph has no cycle. Each entry is a module or a package (its submodules included); docs/architecture.md keeps the
# same table. Registries sit on the lowest floor, torch-free, so that any floor can read them.
FLOORS = [
    ("errors", "typed", "killpoints", "registry", "task_registry", "term_registry"),
    ("io", "image_space", "devices", "grid", "budget", "trust", "manifest"),
    ("data",),
    ("engine",),
    ("losses",),
    ("models",),
    ("config", "card", "report.runs"),
    ("deploy",),
    ("teachers", "teacher_set"),
    ("metrics",),
    ("report",),
    ("tasks",),
    ("api", "demo"),
    ("cli", "ecosystem_cli", "__main__", ""),
]


def _modules() -> dict[str, Path]:
    modules = {}
    for p in SRC.rglob("*.py"):
        rel = p.relative_to(SRC.parent).with_suffix("")
        modules[".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)] = p
    return modules


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The gantransfer modules ``path`` imports anywhere (module level and inside functions; ``TYPE_CHECKING``
    blocks left out): ``from pkg import sub`` names the submodule ``pkg.sub`` when there is one."""
    tree = ast.parse(path.read_text())
    skipped = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
               for n in ast.walk(node)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("gantransfer"):
            found.update(f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                         for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("gantransfer"))
    return {m for m in found if m in modules}


def _floor(module: str) -> int:
    """The floor of a module: that of the longest entry of FLOORS it is, or lies in."""
    rel = module.removeprefix("gantransfer").removeprefix(".")
    best = max(((len(e), i) for i, entries in enumerate(FLOORS) for e in entries
                if rel == e or (e and rel.startswith(e + "."))), default=None)
    assert best is not None, f"{module} has no floor: add it to FLOORS here and in docs/architecture.md"
    return best[1]


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {m: {i for i in _imports(p, modules) if i != m} for m, p in modules.items()}


def test_every_import_runs_down_the_floors():
    upward = [f"{m} (floor {_floor(m)}) -> {i} (floor {_floor(i)})" for m, imports in sorted(_graph().items())
              for i in sorted(imports) if _floor(i) > _floor(m)]
    assert not upward, "imports running up a floor:\n" + "\n".join(upward)


def test_no_import_cycle_even_inside_functions():
    graph = _graph()
    state: dict[str, int] = {}

    def walk(m, stack):
        state[m] = 1
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(n):] + [n]))
            if n not in state:
                walk(n, stack + [n])
        state[m] = 2
    for m in sorted(graph):
        if m not in state:
            walk(m, [m])


def test_the_graph_reader_sees_imports_inside_functions(tmp_path):
    (tmp_path / "x.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import gantransfer.api\n"
                                   "def f():\n    from gantransfer.models import cost\n    import gantransfer.cli\n")
    modules = {"gantransfer.api": Path(), "gantransfer.cli": Path(), "gantransfer.models": Path(),
               "gantransfer.models.cost": Path()}
    assert _imports(tmp_path / "x.py", modules) == {"gantransfer.models.cost", "gantransfer.cli"}
    assert _floor("gantransfer.models.cost") == 5 and _floor("gantransfer") == len(FLOORS) - 1


def test_the_command_line_starts_without_torch_in_well_under_a_second():
    # CPU seconds, not wall seconds: a loaded machine stretches the wall clock, not the work (importing torch
    # alone costs more than a second of CPU, so a parser that pulled it in would still fail)
    probe = ("import sys, time; t = time.process_time(); from gantransfer.cli import build_parser; "
             "build_parser().format_help(); print(time.process_time() - t, 'torch' in sys.modules)")
    seconds, torch_loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                                           check=True).stdout.split()
    assert torch_loaded == "False" and float(seconds) < 0.5
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-m", "gantransfer", "--help"], capture_output=True, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime) < 1.0


def test_the_package_exports_every_task_and_config():
    import gantransfer
    for name in ("train", "distill", "fuse", "adapt", "baseline", "evaluate", "evaluate_fusion", "TrainConfig",
                 "DistillConfig", "FuseConfig", "AdaptConfig", "BaselineConfig", "EvalConfig", "Generator",
                 "GeneratorConfig", "Teacher", "register_family"):
        assert callable(getattr(gantransfer, name)), name
    assert set(gantransfer.__all__) <= set(dir(gantransfer))


def test_a_run_recorded_under_the_old_names_resumes(tmp_path, capsys):
    run = tmp_path / "t"
    assert main(["train", "--data", "ring8", "--steps", "2", "--checkpoint-every", "2", "--no-progress",
                 "--device", "cpu", "--out", str(run)]) == 0
    record = json.loads((run / "run.json").read_text())
    old = dict(record["config"])
    old["loss"] = old.pop("adversarial_loss")
    for new_field in ("d_lr_ratio", "weight_decay"):  # fields the old version did not have (defaults since)
        del old[new_field]
    (run / "run.json").write_text(json.dumps({**record, "config": old}))
    assert main(["train", "--data", "ring8", "--steps", "4", "--no-progress", "--device", "cpu", "--out", str(run),
                 "--resume"]) == 0
    code, err = main(["train", "--data", "ring8", "--steps", "6", "--lr", "0.01", "--no-progress", "--device", "cpu",
                      "--out", str(run), "--resume"]), capsys.readouterr().err
    assert code == 2 and "--resume with a different config (lr: 0.003 -> 0.01)" in err
