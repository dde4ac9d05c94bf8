"""The translation train state (arrays only) and the static spec of its networks and optimizers.

Networks are named by what they do: `g_ab` maps domain A to B, `g_ba` B to A (CycleGAN only); `d_b` judges
domain B (for pix2pix: an (A, B) pair), `d_a` domain A (CycleGAN only). The history pools are named by the
domain of the fakes they hold: pool "b" holds G_ab's outputs for D_b, pool "a" G_ba's for D_a.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jaxgan.engine.state import TrainState, init_net
from jaxgan.translation.pool import empty_pool

TASKS = ("pix2pix", "cyclegan")
# Translation direction -> the generator that performs it.
GENERATORS = {"AtoB": "g_ab", "BtoA": "g_ba"}


@dataclasses.dataclass(frozen=True)
class TranslationModels:
    """What stays fixed during a run: the modules, their optimizers and the pool capacity."""

    task: str  # pix2pix | cyclegan
    generators: Mapping[str, nn.Module]  # g_ab [, g_ba]
    discriminators: Mapping[str, nn.Module]  # d_b [, d_a]
    g_tx: optax.GradientTransformation
    d_tx: optax.GradientTransformation
    pool_size: int = 0  # history pool capacity per D (CycleGAN: 50; 0 = no pool)

    def directions(self) -> list[str]:
        """The directions this model translates: ["AtoB"] for pix2pix, ["AtoB", "BtoA"] for CycleGAN."""
        return [d for d, g in GENERATORS.items() if g in self.generators]

    def module(self, name: str) -> nn.Module:
        """The generator or discriminator called `name`."""
        return {**self.generators, **self.discriminators}[name]


def create_state(models: TranslationModels, example_shape: Sequence[int], seed: int) -> TrainState:
    """Initialise every network and optimizer state from `seed`; images have `example_shape` (H, W, C)."""
    return state_initializer(models, example_shape, seed)()


def state_initializer(models: TranslationModels, example_shape: Sequence[int], seed: int, out_shardings=None
                      ) -> Callable[[], TrainState]:
    """A `() -> state` from `seed`, placed with `out_shardings` (e.g. replicated over the loop's mesh).

    Runs as one jitted program (op by op is far slower on the CPU) under `_cpu_compile_friendly_threefry`; the
    values are a pure function of `seed`, the same on every backend.
    """
    init = jax.jit(lambda key: init_state(models, tuple(example_shape), key), out_shardings=out_shardings)

    def initialize() -> TrainState:
        with _cpu_compile_friendly_threefry():
            return init(jax.random.PRNGKey(seed))

    return initialize


def _cpu_compile_friendly_threefry():
    """The non-partitionable threefry, which XLA:CPU compiles about 5x faster (docs/notes.md); initialisation computes
    every value whole, so partitionable random bits would buy nothing."""
    return jax.threefry_partitionable(False)


def init_state(models: TranslationModels, example_shape: tuple[int, int, int], root: jax.Array) -> TrainState:
    """The state of every network (split keys of `root`, in name order) and the empty history pools (`aux["pools"]`)."""
    h, w, c = example_shape
    d_shape = (h, w, 2 * c) if models.task == "pix2pix" else (h, w, c)  # pix2pix's D sees (input, output)
    names = sorted(models.generators) + sorted(models.discriminators)
    keys = jax.random.split(root, len(names) + 1)
    nets = {}
    for name, key in zip(names, keys[1:], strict=True):
        is_g = name in models.generators
        shape = example_shape if is_g else d_shape
        nets[name] = init_net(models.module(name), models.g_tx if is_g else models.d_tx, key,
                              jnp.zeros((1, *shape), jnp.float32))
    pools = {}
    if models.task == "cyclegan":
        pools = {dom: empty_pool(models.pool_size, example_shape) for dom in ("a", "b")}
    return TrainState(step=jnp.zeros((), jnp.int32), rng=keys[0], nets=nets, aux={"pools": pools} if pools else {})


def translate(models: TranslationModels, state: TrainState, direction: str, images: jax.Array) -> jax.Array:
    """Translate `images` in inference mode (BatchNorm running averages, no dropout)."""
    if direction not in GENERATORS or GENERATORS[direction] not in models.generators:
        raise ValueError(f"{models.task} translates {models.directions()}, not {direction!r}.")
    name = GENERATORS[direction]
    return models.generators[name].apply(state.nets[name].variables(), images, train=False)
