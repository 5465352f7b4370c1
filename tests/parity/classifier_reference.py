"""PyTorch reference for the classifier algorithm (loss type `classifier`, runner/algo/algo_classifier.c).

One iteration: logits = net(images), loss = F.cross_entropy(logits, labels,
label_smoothing=s) (mean), backward, one optimizer step; metrics are that loss and the batch's
accuracy (argmax of the logits before the update).  Evaluation runs the network in eval mode
(batch norms on running statistics) over held-out examples and reports their mean loss and
accuracy.

Each case is a spec (YAML text, stored in the fixture's metadata so that the C test builds exactly
this network) and the same network as an nn.Sequential, whose state_dict key `<index>.<param>` is
our `classifier.<index>.<param>`.  The reference runs in float64 from float32-representable
weights and inputs, so it is the exact answer up to float32 rounding.

make(out_dir) writes out_dir/classifier/<case>/: init.safetensors and after.safetensors (weights and
buffers before the first and after the last iteration), steps.safetensors (iter<k>.images,
iter<k>.labels, iter<k>.metrics [loss, accuracy]; eval.images, eval.labels, eval.metrics
[test_loss, test_accuracy] after training; metadata: spec, iterations, batch, eval_count), and
cases.txt listing the cases.
"""
import os
import sys
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402
from case_list import write_cases  # noqa: E402

CLASSES = 5

PLAIN = ("""
    input: [1, 8, 8]
    layers:
      - conv2d: {out: 4, kernel: 3, padding: 1}
      - relu
      - max_pool2d: 2
      - conv2d: {out: 6, kernel: 3}
      - relu
      - flatten
      - linear: {out: 16}
      - {op: relu, name: features}
      - linear: {out: 5}""",
         lambda: nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 6, 3),
                               nn.ReLU(), nn.Flatten(), nn.Linear(24, 16), nn.ReLU(), nn.Linear(16, CLASSES)))
BATCHNORM = ("""
    input: [1, 8, 8]
    layers:
      - conv2d: {out: 4, kernel: 3, padding: 1, bias: false}
      - batchnorm2d
      - relu
      - max_pool2d: 2
      - flatten
      - linear: {out: 5}""",
             lambda: nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                                   nn.Flatten(), nn.Linear(64, CLASSES)))

SGD = ("{type: sgd, lr: 0.1, momentum: 0.9, weight_decay: 1.0e-3}",
       lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=1e-3))
ADAM = ("{type: adam, lr: 1.0e-3}", lambda p: torch.optim.Adam(p, lr=1e-3))

# name, network, optimizer, label smoothing, batch, iterations, held-out examples (more than the
# evaluation's 500-example chunk, so that a remainder chunk runs too)
CASES = [
    ("sgd_smoothing", PLAIN, SGD, 0.1, 7, 1, 13),
    ("adam_batchnorm", BATCHNORM, ADAM, 0.0, 6, 3, 701),
]


def spec_text(name, net, opt, smoothing):
    body = "\n".join("  " + line for line in net[0].strip("\n").split("\n"))
    return (f"name: classifier_{name}\nseed: 0\nmodels:\n  classifier:\n{body}\n"
            f"loss: {{type: classifier, label_smoothing: {smoothing}}}\noptimizers:\n  classifier: {opt[0]}\n")


def f32(t):
    """float32-representable float64: both sides start from the same numbers."""
    return t.float().double()


def state(net):
    return OrderedDict((f"classifier.{k}", v.detach().float().clone() if v.is_floating_point() else v.detach().clone())
                       for k, v in net.state_dict().items())


def batch(n):
    images = f32(torch.rand(n, 1, 8, 8) * 2 - 1)
    labels = torch.randint(0, CLASSES, (n,))
    return images, labels


def metrics(logits, labels, smoothing):
    loss = F.cross_entropy(logits, labels, label_smoothing=smoothing)
    accuracy = (logits.argmax(1) == labels).double().mean()
    return loss, accuracy


def run_case(out_dir, name, net_def, opt_def, smoothing, batch_size, iterations, eval_count):
    case_dir = os.path.join(out_dir, name)
    os.makedirs(case_dir, exist_ok=True)
    torch.manual_seed(0)
    net = net_def[1]()
    with torch.no_grad():
        for t in net.state_dict().values():
            if t.is_floating_point():
                t.copy_(f32(t))
    st.save(os.path.join(case_dir, "init.safetensors"), state(net))
    net.double().train()
    opt = opt_def[1](net.parameters())
    steps = OrderedDict()
    for k in range(iterations):
        images, labels = batch(batch_size)
        loss, accuracy = metrics(net(images), labels, smoothing)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        steps[f"iter{k}.images"], steps[f"iter{k}.labels"] = images.float(), labels.int()
        steps[f"iter{k}.metrics"] = torch.tensor([loss.item(), accuracy.item()], dtype=torch.float64)
    st.save(os.path.join(case_dir, "after.safetensors"), state(net))
    net.eval()
    images, labels = batch(eval_count)
    with torch.no_grad():
        loss, accuracy = metrics(net(images), labels, smoothing)
    steps["eval.images"], steps["eval.labels"] = images.float(), labels.int()
    steps["eval.metrics"] = torch.tensor([loss.item(), accuracy.item()], dtype=torch.float64)
    st.save(os.path.join(case_dir, "steps.safetensors"), steps,
            {"spec": spec_text(name, net_def, opt_def, smoothing), "iterations": iterations, "batch": batch_size,
             "eval_count": eval_count})


def make(out_dir):
    write_cases(out_dir, "classifier", CASES, run_case)


if __name__ == "__main__":
    make(sys.argv[1] if len(sys.argv) > 1 else "fixtures")
