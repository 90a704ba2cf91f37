"""Every bound the grader enforces, in one place (the notebook quotes the student-facing ones)."""

import HW7_utils

# Shapes and counts every side agrees on.
N_POINTS = HW7_utils.N_POINTS  # the airfoil size: y-values per airfoil (the dataset's), the model's input and output
N_SAMPLES = HW7_utils.N_SAMPLES  # the generated airfoils part 2.3 scores (and 2.1's generate test asks for)

# Configs (train_config.yaml): larger values are refused with a message, never run.
N_ITERS_MAX = 20_000
BATCH_SIZE_MIN, BATCH_SIZE_MAX = 1, 1597
RUNNING_AVG_WINDOW_MAX = 10_000
LATENT_SIZE = 10  # model_config.yaml's latent_size (its input_size must be N_POINTS)
LAYER_SIZE_MAX = 8192  # model_config.yaml: the largest hidden layer

# Each part runs in its own child process with these budgets.
TEST_WALL_S = 30.0  # parts 1.4, 2.1, 2.2 (they take 2 to 5 s)
TRAIN_WALL_S = 600.0  # part 2.3: re-training the student's model (10 minutes)
# A child's start (Python, torch and the rest, imported before it reads its job) is not charged to its part's
# budget: a slow or busy machine must not cost a correct part its time.  The kernel's CPU limit allows this
# much more for it.
START_CPU_S = 60
CELL_S = 20  # defining one graded cell's contents (a loop in a class body, say); sent in the job
# Part 2.3's second training, with the grader's reference loop and KL (only when the first gave no model,
# or 1.4/2.2 lost points and the samples are below full marks), gets this share of TRAIN_WALL_S: the
# worst case for one submission is TRAIN_WALL_S * (1 + FALLBACK_SHARE), 15 minutes of CPU (a minute more on the
# clock for each training: sandbox.BACKSTOP_EXTRA_S).
FALLBACK_SHARE = 0.5
MEMORY_BYTES = 4 * 2**30  # address space of one child
FILE_BYTES = 20 * 2**20  # any single file a child writes, its captured output included
EXTRA_PROCESSES = 64  # processes and threads a child may start
OUTCOME_BYTES = 4 * 2**20  # the largest outcome message the parent accepts

# The judges' numeric tolerances, relative and absolute (judges.common.close).
TOL = 1e-5  # a value the student's code computes (D_KL, the reparameterisation's noise)
TOL_SAME = 1e-6  # what must not change at all: one input alone or in a batch, generate's z, a step's value
TOL_TRAINING = 1e-4  # a training loop's losses and gradients (float32 sums over batches)

# Submissions.
ZIP_MAX_BYTES = 50 * 2**20  # uncompressed total
ZIP_MAX_FILES = 200
NOTEBOOK_MAX_BYTES = 20 * 2**20
YAML_MAX_BYTES = 64 * 2**10
