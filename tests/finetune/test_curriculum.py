import random

from finetune.curriculum import Curriculum, CurriculumConfig
from finetune.rl import CurriculumSampler


def test_q_moves_toward_learning_arm_and_away_from_solved_and_hopeless():
    # mean |advantage|: solved and hopeless problems have identical rewards in a group -> 0
    sec = Curriculum(["solved", "learning", "hopeless"], CurriculumConfig(alpha=0.3, tau=0.1))
    for _ in range(20):
        sec.update({"solved": 0.0, "learning": 0.8, "hopeless": 0.0})
    probs = sec.probabilities()
    assert sec.q["learning"] > 0.7 and sec.q["solved"] == 0.0 == sec.q["hopeless"]
    assert probs["learning"] > 0.99
    # the arm stops paying off (it got solved): its value decays by TD(0)
    for _ in range(10):
        sec.update({"learning": 0.0})
    assert sec.q["learning"] < 0.03


def test_random_curriculum_is_the_same_code_with_update_off():
    sec = Curriculum(["a", "b", "c"], CurriculumConfig(update=False))
    sec.update({"a": 1.0})
    assert sec.q == {"a": 0.0, "b": 0.0, "c": 0.0} and sec.counts["a"] == 1
    draws = [sec.sample(random.Random(i)) for i in range(3000)]
    assert all(900 < draws.count(x) < 1100 for x in "abc")


def test_state_round_trips(tmp_path):
    sec = Curriculum(["a", "b"])
    sec.update({"a": 0.5})
    sec.save(tmp_path / "c.json")
    other = Curriculum(["a", "b"])
    other.load(tmp_path / "c.json")
    assert other.state() == sec.state()


def test_sampler_keeps_trl_repeat_pattern_and_follows_q():
    cats = ["easy"] * 5 + ["hard"] * 5
    sec = Curriculum(cats, CurriculumConfig(tau=0.05))
    sec.q["hard"] = 1.0
    idx = list(CurriculumSampler(cats, sec, prompts_per_batch=2, num_generations=3, repeat_count=2,
                                 num_batches=4, seed=0))
    assert len(idx) == 4 * 2 * 3 * 2
    block = idx[:12]
    assert block[:6] == block[6:]  # the batch repeated repeat_count times
    assert block[0] == block[1] == block[2] and block[3] == block[4] == block[5]
    assert all(i >= 5 for i in idx)  # Q says hard
