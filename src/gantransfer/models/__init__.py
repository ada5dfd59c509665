"""Generator and discriminator families, their registry, and generator files (config.json + model.safetensors)."""
from gantransfer.models.family import Capabilities, ModelFamily, family_names, register
from gantransfer.models.config import (DiscriminatorConfig, FusionRecord, GeneratorConfig, build_discriminator,
                                         build_generator, discriminator_config_for)
from gantransfer.models.store import load_discriminator, load_generator, save_discriminator, save_generator

__all__ = ["Capabilities", "DiscriminatorConfig", "FusionRecord", "GeneratorConfig", "ModelFamily",
           "build_discriminator", "build_generator", "discriminator_config_for", "family_names",
           "load_discriminator", "load_generator", "register", "save_discriminator", "save_generator"]
