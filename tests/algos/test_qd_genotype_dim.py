"""Every QD program takes its genotype size from the task unless told one:
``genotype_dim`` 0 (the default) is the task's own size, resolved before
anything compiles and recorded in the run's config; a size the task cannot
take is refused with the field's name and the task's own size."""

import jax.numpy as jnp
import pytest

from jaxrl import algorithms, cli
from jaxrl.algos import aurora, map_elites, novelty_search, ns_es, serene
from jaxrl.envs import qd

QD_ALGORITHMS = ("map-elites", "novelty-search", "ns-es", "aurora", "serene")
MODULES = (map_elites, novelty_search, ns_es, aurora, serene)


@pytest.mark.parametrize("name", QD_ALGORITHMS)
def test_default_genotype_size_is_the_tasks(name):
    algorithm = algorithms.get(name)
    config = algorithm.config_type()
    assert config.genotype_dim == 0
    # built, not compiled: the maze's 67 genes and the arm's 100 joints
    for task_id, size in (("hard-maze", 67), ("arm", 100)):
        program = algorithm.make_program(config, task_id)
        assert program.description["config"]["genotype_dim"] == size, task_id
    # a size the task can take is used as given
    program = algorithm.make_program(algorithm.config_type(genotype_dim=15),
                                     "hard-maze")  # fmt: skip
    assert program.description["config"]["genotype_dim"] == 15


@pytest.mark.parametrize("name", QD_ALGORITHMS)
def test_a_size_the_task_cannot_take_is_refused(name):
    algorithm = algorithms.get(name)
    with pytest.raises(ValueError, match=r"Config.genotype_dim .*100.*'hard-maze'.*67"):
        algorithm.make_program(algorithm.config_type(genotype_dim=100), "hard-maze")
    with pytest.raises(ValueError, match=r"Config.genotype_dim must be an int >= 0"):
        algorithm.config_type(genotype_dim=-1)
    with pytest.raises(ValueError, match="unknown QD task"):
        algorithm.make_program(algorithm.config_type(), "hard-maz")


@pytest.mark.parametrize("module", MODULES, ids=QD_ALGORITHMS)
def test_task_objects_and_bare_score_functions(module):
    # a Task object: 0 takes its size, another size is refused
    program = module.make_program(module.Config(), qd.arm(6))
    assert program.description["config"]["genotype_dim"] == 6
    with pytest.raises(ValueError, match="Config.genotype_dim is 7 but the task"):
        module.make_program(module.Config(genotype_dim=7), qd.arm(6))

    # a bare score function has no size of its own
    def score(genotypes, key):
        return jnp.zeros(genotypes.shape[0]), genotypes[:, :2], {}

    with pytest.raises(ValueError, match="bare score function has no genotype size"):
        module.make_program(
            module.Config(descriptor_low=0.0, descriptor_high=1.0), score
        )


def test_task_default_sizes_are_read_without_building():
    assert qd.default_genotype_dim("hard-maze") == 67
    assert qd.default_genotype_dim("arm") == 100
    assert qd.default_genotype_dim("brax-ant-omni") == qd.brax_ant_omni.__defaults__[0]
    with pytest.raises(ValueError, match="unknown QD task"):
        qd.default_genotype_dim("maze")


def test_command_line_refuses_a_wrong_size_before_compiling(tmp_path, capsys):
    out = tmp_path / "bad"
    argv = ["train", "map-elites", "--task", "hard-maze", "--genotype-dim", "100",
            "--no-progress", "--out", str(out)]  # fmt: skip
    assert cli.main(argv) == 2
    said = capsys.readouterr().out
    assert "--genotype-dim" in said and "67" in said
    assert not out.exists()
