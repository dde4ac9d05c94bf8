"""The explicit train state: one pytree with everything a run changes, and its constructor for a GAN.

`TrainState` holds only arrays, so it can be jitted, donated, sharded and checkpointed as it is. Its networks, their
EMAs and the objective's running values are keyed by name, so a second D is one more key. The things that do not
change during a run (the modules, the optimizers, the latent size) live in the static `GAN` spec beside it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax import struct

PyTree = Any
G, D = "G", "D"  # the names of a GAN's generator and discriminator in `TrainState.nets` and `.ema`


@struct.dataclass
class NetState:
    """One network's learned params, its mutable collections (e.g. batch_stats) and its optimizer state."""

    params: PyTree
    collections: PyTree  # dict of non-param collections, {} when the network has none
    opt_state: PyTree

    def variables(self) -> dict:
        """The variables dict that `Module.apply` takes."""
        return {"params": self.params, **self.collections}


@struct.dataclass
class TrainState:
    """Every objective's train state: step, base RNG key, the networks by name (e.g. "G", "D"), the EMA params by
    network name ({} without an EMA) and the objective's own running values by name ({} when it has none)."""

    step: jax.Array
    rng: jax.Array
    nets: dict[str, NetState]
    ema: dict[str, PyTree] = struct.field(default_factory=dict)
    aux: dict[str, Any] = struct.field(default_factory=dict)

    def with_nets(self, **nets: NetState) -> TrainState:
        """This state with the networks named in `nets` replaced (e.g. `with_nets(D=new_d)`)."""
        return self.replace(nets={**self.nets, **nets})

    def with_net(self, name: str, net: NetState) -> TrainState:
        """This state with the network called `name` replaced."""
        return self.replace(nets={**self.nets, name: net})

    def with_ema(self, **ema: PyTree) -> TrainState:
        """This state with the EMA params of the networks named in `ema` replaced."""
        return self.replace(ema={**self.ema, **ema})


@dataclasses.dataclass(frozen=True)
class GAN:
    """What stays fixed during a run: the two networks, their optimizers and the latent size."""

    generator: nn.Module
    discriminator: nn.Module
    g_tx: optax.GradientTransformation
    d_tx: optax.GradientTransformation
    z_dim: int
    num_classes: int | None = None  # set for class-conditional models: G and D then receive labels

    def generate(self, g_variables: dict, z: jax.Array, labels: jax.Array | None = None,
                 train: bool = False, noise_key: jax.Array | None = None) -> jax.Array:
        """G(z) in inference mode (BatchNorm uses its running averages) unless `train`; `noise_key` keys a G's
        per-layer noise (StyleGAN2's evaluation draws it at random, as the reference's metrics)."""
        rngs = {} if noise_key is None else {"noise": noise_key}
        return self.generator.apply(g_variables, z, labels, train=train, mutable=False, rngs=rngs)


def init_net(module: nn.Module, tx: optax.GradientTransformation, key: jax.Array, *inputs) -> NetState:
    """A network's variables (inference-mode init on `inputs`) and its optimizer state: every task's one init."""
    variables = dict(module.init(key, *inputs, train=False))
    params = variables.pop("params")
    return NetState(params=params, collections=variables, opt_state=tx.init(params))


def apply_train(module: nn.Module, net: NetState, *inputs, params: PyTree = None,
                rngs: dict[str, jax.Array] | None = None) -> tuple[jax.Array, dict]:
    """Run `module` in training mode on `inputs` (with `params` in place of the net's, when given); returns
    (output, the net's updated mutable collections, e.g. BatchNorm statistics). Every task's one apply."""
    variables = {"params": net.params if params is None else params, **net.collections}
    out, updates = module.apply(variables, *inputs, train=True, mutable=list(net.collections), rngs=rngs or {})
    return out, {**net.collections, **updates}


def update_net(tx: optax.GradientTransformation, net: NetState, grads: PyTree) -> NetState:
    """One optimizer step of `net` on `grads`: every task's one update."""
    updates, opt_state = tx.update(grads, net.opt_state, net.params)
    return net.replace(params=optax.apply_updates(net.params, updates), opt_state=opt_state)


def create_state(gan: GAN, example_shape: Sequence[int], seed: int, ema: bool = False,
                 aux: dict[str, jax.Array] | None = None) -> TrainState:
    """Initialise G, D and their optimizer states from `seed`; examples have `example_shape`; `aux` as given."""
    root = jax.random.PRNGKey(seed)
    g_key, d_key, run_key = jax.random.split(root, 3)
    z = jnp.zeros((1, gan.z_dim), jnp.float32)
    x = jnp.zeros((1, *example_shape), jnp.float32)
    labels = None if gan.num_classes is None else jnp.zeros((1,), jnp.int32)
    g = init_net(gan.generator, gan.g_tx, g_key, z, labels)
    d = init_net(gan.discriminator, gan.d_tx, d_key, x, labels)
    g_ema = {G: jax.tree.map(jnp.copy, g.params)} if ema else {}
    return TrainState(step=jnp.zeros((), jnp.int32), rng=run_key, nets={G: g, D: d}, ema=g_ema, aux=aux or {})


def param_count(params: PyTree) -> int:
    """Number of scalars in a params tree."""
    return sum(int(x.size) for x in jax.tree.leaves(params))
