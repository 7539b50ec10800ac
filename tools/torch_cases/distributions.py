"""Distributions: categorical_entropy (arg `probs`)."""

from torch.distributions import Categorical

from case import DTYPES, case, register, rng, shape_name, tensor


def categorical_entropy_call(probs):
    # Categorical(probs=probs).entropy(): one entropy per row of the last dim. PyTorch clamps
    # the probabilities to [eps, 1 - eps] before the log, so a one-hot row gives ~eps, not 0.
    return Categorical(probs=probs).entropy()


@register("categorical_entropy")
def categorical_entropy():
    for dt in DTYPES:
        for shape in [(5,), (3, 4), (2, 2, 6)]:
            name = f"categorical_entropy/{dt}/{shape_name(shape)}"
            probs = rng(name).probs(shape, dt)
            yield case(name, "categorical_entropy", dt, {"probs": probs}, ["probs"], {}, categorical_entropy_call)
        # Rows with zeros (0 * log 0); the gradient is not checked (requires_grad empty).
        probs = tensor([[0.0, 1.0, 0.0], [0.5, 0.5, 0.0]], dt)
        yield case(f"categorical_entropy/{dt}/one_hot", "categorical_entropy", dt, {"probs": probs}, [], {},
                   categorical_entropy_call)
