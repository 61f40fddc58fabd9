"""``jaxrl envs`` lists the GFlowNet environments and QD tasks by family."""

from jaxrl import cli
from jaxrl.envs import gfn, qd


def test_envs_lists_gfn_ids_and_qd_tasks(capsys):
    assert cli.main(["envs"]) == 0
    out = capsys.readouterr().out
    lines = [line.strip() for line in out.splitlines()]
    gfn_at = next(i for i, line in enumerate(lines) if line.startswith("GFlowNet"))
    qd_at = next(i for i, line in enumerate(lines) if line.startswith("quality"))
    assert set(gfn.gfn_env_ids()) <= set(lines[gfn_at + 1 : qd_at])
    assert "hypergrid" in lines[gfn_at + 1 : qd_at]
    assert set(qd.task_ids()) <= set(lines[qd_at + 1 :])
