"""The old name of ``gantransfer.models.config`` (generator and discriminator configs and their builders; the family
registry is ``gantransfer.models.family``). Importing it still works, with a DeprecationWarning."""
import warnings

from gantransfer.models.config import (FORMAT_VERSION, FUSION_MODES, DiscriminatorConfig,
                                       ExtensionRecord, FusionRecord, GeneratorConfig, LabelOrigin,
                                       build_discriminator, build_generator, discriminator_config_for, with_options)

__all__ = ["FORMAT_VERSION", "FUSION_MODES", "DiscriminatorConfig", "ExtensionRecord", "FusionRecord", "GeneratorConfig",
           "LabelOrigin", "build_discriminator", "build_generator", "discriminator_config_for", "with_options"]

warnings.warn("gantransfer.models.registry is now gantransfer.models.config", DeprecationWarning, stacklevel=2)
