"""Generator and discriminator families, their registry, and generator files (config.json + model.safetensors)."""
from gantransfer.models.registry import GeneratorConfig, build_discriminator, build_generator
from gantransfer.models.store import load_generator, save_generator

__all__ = ["GeneratorConfig", "build_discriminator", "build_generator", "load_generator", "save_generator"]
