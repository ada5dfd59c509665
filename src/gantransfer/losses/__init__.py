"""Loss terms: small named classes, each with its own weight, each logged under its own name."""
from gantransfer.losses.adversarial import (GeneratorHinge, GeneratorNonSaturating, DiscriminatorHinge,
                                            DiscriminatorNonSaturating, R1Penalty, adversarial_terms)
from gantransfer.engine.terms import LossTerm, StepContext

__all__ = ["DiscriminatorHinge", "DiscriminatorNonSaturating", "GeneratorHinge", "GeneratorNonSaturating",
           "LossTerm", "R1Penalty", "StepContext", "adversarial_terms"]
