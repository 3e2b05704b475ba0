"""Distillation (sections 2.4 and 4.1): fine-tune smaller students on R1's outputs. NOT BUILT YET.

It will reuse the sampler (r1mini/sampler.py) to generate reasoning data from a trained R1 or R1-Zero
checkpoint and the pretraining loop to fine-tune a smaller student; see docs/paper_map.md.

    python distill.py       # says what is missing and exits with code 2
"""

import sys

if __name__ == "__main__":
    print(
        "distill.py: distillation (section 2.4) is not implemented yet.\n"
        "Run `python train_zero.py` for DeepSeek-R1-Zero (section 2.2); see docs/paper_map.md.",
        file=sys.stderr,
    )
    sys.exit(2)
