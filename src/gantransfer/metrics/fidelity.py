"""Teacher-student fidelity on the same latents: PSNR and SSIM (torchmetrics), on bank and on fresh latents."""
from __future__ import annotations

import torch
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

from gantransfer.models.config import GeneratorConfig

PSNR_CEILING_DB = 100.0  # an image identical to the teacher's (MSE 0: infinite PSNR, not valid JSON) counts as this


@torch.inference_mode()
def fidelity(student: torch.nn.Module, teacher, cfg: GeneratorConfig, z: torch.Tensor, labels: torch.Tensor | None,
             batch_size: int = 250, device: torch.device | str = "cpu") -> dict[str, float]:
    """Mean PSNR (dB, per image, each at most ``PSNR_CEILING_DB``: identical images) and SSIM of student vs teacher
    images for latents ``z`` (images in [-1, 1])."""
    psnr, ssim, n = 0.0, 0.0, 0
    for i in range(0, len(z), batch_size):
        zi = z[i:i + batch_size].to(device)
        yi = None if labels is None else labels[i:i + batch_size].to(device)
        s, t = student(zi, yi).float().clamp(-1, 1), teacher(zi, yi).float().clamp(-1, 1)
        per_image = peak_signal_noise_ratio(s, t, data_range=2.0, reduction="none", dim=(1, 2, 3))
        psnr += float(per_image.clamp(max=PSNR_CEILING_DB).sum())
        ssim += float(structural_similarity_index_measure(s, t, data_range=2.0, reduction="sum"))
        n += len(zi)
    return {"psnr": psnr / n, "ssim": ssim / n}
