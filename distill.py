"""Distillation (sections 2.4 and 4.1): fine-tune smaller students on R1's outputs. NOT BUILT YET.

It will reuse what train_r1.py builds: the stage-3 rejection-sampled set it writes
(runs/r1/<run>/rejection_sft/sft_data.jsonl, the paper's 800k samples), r1mini/sft.py to fine-tune each
student base on it, and train_zero.py's GRPO recipe for the "RL on the small model" comparison (4.1).

    python distill.py --help    # this text
    python distill.py           # says what is missing and exits with code 2
"""

import argparse
import sys


def main() -> None:
    argparse.ArgumentParser(
        prog="distill.py",
        description="Distillation (sections 2.4, 4.1): not built yet. Run `python train_r1.py` for DeepSeek-R1, whose "
        "stage-3 data (rejection_sft/sft_data.jsonl) the students will be fine-tuned on.",
    ).parse_args()
    print("distill.py: distillation (section 2.4) is not implemented yet; see docs/paper_map.md.", file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
    main()
