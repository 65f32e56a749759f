"""PPO experts the tests imitate, trained once and shipped in tests/experts/ (a policy
checkpoint each, meta.json + params.msgpack), so a test session does not spend its first
seconds of every worker training them. A missing folder is trained again by its recipe below
(`PPOConfig.for_env(env_id, **overrides)`, seed 0: what the tests trained before the experts
were shipped) and saved there.

    policy, params = shipped_expert("CartPole-v1")
    action = policy.act(params, key, obs, deterministic=True)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

EXPERTS = Path(__file__).parent / "experts"
# name -> (env id, PPOConfig.for_env overrides)
RECIPES: dict[str, tuple[str, dict[str, Any]]] = {
    "CartPole-v1": ("CartPole-v1", {}),
    "Pendulum-v1": ("Pendulum-v1", {}),
    "Pendulum-v1-400k": ("Pendulum-v1", {"total_steps": 400_000}),  # swings up, not optimally
}


def shipped_expert(name: str) -> tuple[Any, Any]:
    """(policy, params) of expert `name`, trained by its recipe first when tests/experts/ lacks it."""
    from imitax.io.policy_checkpoint import load_policy, save_policy

    folder = EXPERTS / name
    if not (folder / "meta.json").is_file():
        import imitax
        from imitax.rl.loop import seed_slice
        from imitax.rl.ppo import PPOConfig
        from imitax.rl.train import train_ppo

        env_id, overrides = RECIPES[name]
        result = train_ppo(imitax.make(env_id), PPOConfig.for_env(env_id, **overrides), seed=0)
        save_policy(folder, result.ppo.policy, seed_slice(result.state, 0).policy_params, algorithm="ppo",
                    recipe={"env_id": env_id, "overrides": overrides, "seed": 0})
    policy, params, _ = load_policy(folder)
    return policy, params
