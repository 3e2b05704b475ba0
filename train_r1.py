"""DeepSeek-R1 (section 2.3): cold start, reasoning RL with language consistency, rejection sampling + SFT,
RL for all scenarios. NOT BUILT YET.

The four stages are planned (docs/paper_map.md lists the files they will live in); what exists today is
R1-Zero (train_zero.py), whose pieces the R1 stages reuse: the GRPO trainer (r1mini/grpo.py), the
language-consistency reward (r1mini/rewards.py, section 2.3.2) and R1's output format
`|special_token|<reasoning_process>|special_token|<summary>` (r1mini/template.py).

    python train_r1.py      # says what is missing and exits with code 2
"""

import sys

if __name__ == "__main__":
    print(
        "train_r1.py: the DeepSeek-R1 pipeline (section 2.3) is not implemented yet.\n"
        "Run `python train_zero.py` for DeepSeek-R1-Zero (section 2.2); see docs/paper_map.md.",
        file=sys.stderr,
    )
    sys.exit(2)
