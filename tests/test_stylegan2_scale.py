"""What keeps StyleGAN2 at 256-1024 px affordable on CPU (benchmarks/stylegan2_scale.py): the export's parity set
and the distillation preview sized by resolution, no copy of the teacher for a check that cannot fail or for
truncation."""
import torch

from gantransfer.deploy.inference import fold_batchnorm, prepare_for_inference
from gantransfer.deploy.parity import PARITY_LATENTS, check_parity, parity_batches, parity_count
from gantransfer.models.config import GeneratorConfig
from gantransfer.tasks.distill import preview_count
from gantransfer.tasks.latent_space import truncated
from gantransfer.teachers import Teacher
from test_stylegan2 import tiny


def image_cfg(resolution: int, arch: str = "stylegan2") -> GeneratorConfig:
    return GeneratorConfig(arch=arch, latent_dim=8, resolution=resolution, channels=3)


def test_parity_keeps_256_latents_up_to_64_px_and_scales_down_above():
    assert [parity_count(image_cfg(r)) for r in (16, 32, 64, 128, 256, 512, 1024)] == \
        [PARITY_LATENTS] * 3 + [64, 16, 4, 2]
    assert parity_count(GeneratorConfig(arch="mlp", latent_dim=2, resolution=0, channels=0)) == PARITY_LATENTS
    assert parity_batches(image_cfg(32)) == (1, 64) and parity_batches(image_cfg(1024)) == (1, 2)


def test_check_parity_at_1024_px_renders_two_latents_at_batch_1_and_2():
    seen = {"reference": [], "candidate": []}

    def runner(name):
        def run(z, y):
            seen[name].append(len(z))
            return torch.zeros(len(z), 3, 1024, 1024)
        return run

    result = check_parity(runner("reference"), runner("candidate"), image_cfg(1024))
    assert seen == {"reference": [2], "candidate": [1, 1, 2]}
    assert result == {"max_abs_error_batch1": 0.0, "max_abs_error_batch2": 0.0}


def test_prepare_for_inference_runs_no_check_pass_when_nothing_changes():
    g, cfg = tiny(16)
    calls = []
    g.register_forward_hook(lambda m, i, o: calls.append(len(o)))
    assert fold_batchnorm(g) == (g, 0)  # nothing to fold: no copy
    out, plan = prepare_for_inference(g, cfg)
    assert calls == [] and plan.difference == 0.0 and plan.folded == 0 and out is not g
    z = torch.randn(3, 12)
    with torch.inference_mode():
        assert torch.equal(out(z, noise_mode="const"), g(z, noise_mode="const"))


def test_preview_is_32_latents_up_to_256_px_and_one_row_of_8_above():
    assert [preview_count(image_cfg(r)) for r in (32, 256, 512, 1024)] == [32, 32, 8, 8]


def test_truncated_teacher_shares_the_weights_and_leaves_the_original_psi():
    g, cfg = tiny(16)
    teacher = Teacher(g, cfg, True, None, "t")
    t = truncated(teacher, 0.5)
    assert t.module is not g and t.module.truncation_psi == 0.5 and g.truncation_psi == 1.0
    assert all(a is b for a, b in zip(t.module.parameters(), g.parameters()))
    z = torch.randn(2, 12)
    with torch.no_grad():
        assert torch.equal(t(z), g(z, truncation_psi=0.5)) and not torch.equal(t(z), g(z))


def test_bench_throughput_batch_is_256_up_to_64_px_and_scales_down_above():
    from gantransfer.deploy.bench import throughput_batch_for
    assert [throughput_batch_for(image_cfg(r)) for r in (28, 64, 128, 256, 1024)] == [256, 256, 64, 16, 1]
    assert throughput_batch_for(GeneratorConfig(arch="mlp", latent_dim=2, resolution=0, channels=0)) == 256


def test_preview_renders_in_one_batch_up_to_64_px_and_in_small_ones_above():
    from gantransfer.tasks.distill import preview_chunk, render_in_chunks
    assert [preview_chunk(image_cfg(r)) for r in (28, 64, 128, 256, 1024)] == [32, 32, 8, 2, 1]
    g, cfg = tiny(16)
    seen = []
    g.register_forward_hook(lambda m, i, o: seen.append(len(o)))
    z = torch.randn(5, 12)
    with torch.no_grad():
        out = render_in_chunks(g, z, None, 2, torch.device("cpu"))
        assert seen == [2, 2, 1] and torch.equal(out[:2], g(z[:2]))


def test_a_stylegan2_onnx_file_holds_its_convolution_weights_once(tmp_path):
    import onnx
    from onnx import numpy_helper
    from gantransfer.deploy.onnx_export import write_onnx
    g, cfg = tiny(32, channel_max=32)
    write_onnx(g, cfg, tmp_path / "g.onnx")
    model = onnx.load(str(tmp_path / "g.onnx"))
    stored = sum(numpy_helper.to_array(t).nbytes for t in model.graph.initializer)
    weights = 4 * sum(t.numel() for t in [*g.parameters(), *g.buffers()])
    # 1.86x while every modulated weight was also stored unsqueezed, 1.37x while the upsampling layers' transposed
    # copies were stored beside their weights; now a Transpose node per upsampling layer reads the one weight
    assert stored < 1.1 * weights
    assert sum(n.op_type == "Transpose" and n.name.startswith("transpose_") for n in model.graph.node) == \
        sum(1 for b in g.synthesis.blocks if b.num_conv == 2)
    import onnxruntime as ort
    z = torch.randn(2, 12)
    sess = ort.InferenceSession(str(tmp_path / "g.onnx"))
    got = sess.run(None, {sess.get_inputs()[0].name: z.numpy()})[0]
    with torch.no_grad():
        assert abs(got - g(z, noise_mode="const").numpy()).max() < 1e-4


def test_prune_init_renders_256_teacher_samples_up_to_64_px_and_few_small_chunks_above():
    from gantransfer.tasks.student_init import prune_samples
    assert [prune_samples(image_cfg(r)) for r in (28, 64, 128, 256, 1024)] == \
        [(256, 64), (256, 64), (64, 16), (16, 4), (16, 1)]
