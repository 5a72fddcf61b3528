"""PyTorch models beyond torchvision: a BERT-style sentence encoder from a `transformers` config, an
LSTM classifier, and MTCNN's ONet ported to PyTorch with the mtcnn wheel's real weights.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zoo import common
from zoo.model import ZooModel
from zoo.torch_vision import predict, save_pt2

SEQ_LEN, VOCAB = 64, 1000


def sentence_encoder(bert):
    """`bert`'s last hidden state mean-pooled over the attention mask and L2-normalized (also what
    scripts/bench_transformer.py benchmarks)."""
    import torch
    from torch import nn

    class SentenceEncoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            h = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(h.dtype)
            pooled = (h * m).sum(1) / m.sum(1).clamp(min=1.0)
            return nn.functional.normalize(pooled, dim=-1)

    return SentenceEncoder()


def bert_embed(out_dir: Path, seed: int) -> ZooModel:
    """BertModel (2 layers, hidden 128, 2 heads, default sdpa attention) built from a BertConfig (no
    hub download), mean-pooled over the attention mask and L2-normalized: a sentence embedding (128,).
    Trained-like: fit with a throw-away linear head to classify the token task's 8 classes, so
    embeddings of different classes differ. Exported at batch 1: input_ids and attention_mask, int64 [1, 64]."""
    common.seed_torch(seed)
    import torch
    from torch import nn
    from transformers import BertConfig, BertModel

    config = BertConfig(vocab_size=VOCAB, hidden_size=128, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=256, max_position_embeddings=SEQ_LEN, attn_implementation="sdpa")
    encoder = sentence_encoder(BertModel(config, add_pooling_layer=False))
    classes = 8
    head = nn.Linear(128, classes)

    class WithHead(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder, self.head = encoder, head

        def forward(self, ids, mask):
            return self.head(self.encoder(ids, mask) * 8.0)

    ids, mask, y = common.token_task(800, SEQ_LEN, VOCAB, classes, seed, "train")
    loss = common.fit_torch(WithHead(), (torch.from_numpy(ids), torch.from_numpy(mask)), torch.from_numpy(y),
                            epochs=4, lr=1e-3, seed=seed)
    encoder.eval()
    ci, cm, _ = common.token_task(200, SEQ_LEN, VOCAB, classes, seed, "calibration")
    ei, em, ey = common.token_task(120, SEQ_LEN, VOCAB, classes, seed, "eval")
    emb = predict(encoder, ei, em)
    checks = common.check_varied("t_bert_embed", emb, 0.9)
    logits = predict(WithHead().eval(), ei, em)
    checks["fp32_head_accuracy_on_task"] = round(float((logits.argmax(1) == ey).mean()), 4)
    path = out_dir / "model.pt2"
    save_pt2(encoder, (torch.from_numpy(ei[:1]), torch.from_numpy(em[:1])), path, [], dynamic_batch=False)
    common.save_npz(out_dir / "calibration.npz", input_ids=ci, attention_mask=cm)
    common.save_npz(out_dir / "eval.npz", input_ids=ei, attention_mask=em)
    import transformers

    return ZooModel("t_bert_embed", "torch", "embedding", path, out_dir / "calibration.npz", out_dir / "eval.npz",
                    inputs={"input_ids": [[SEQ_LEN], "int64"], "attention_mask": [[SEQ_LEN], "int64"]},
                    outputs=[[[128], "float32"]],
                    weights=f"transformers {transformers.__version__} BertModel from BertConfig (sdpa), fit 4 epochs "
                            "with a linear head on the token task (head dropped)",
                    checks=checks, train={"epochs": 4, "samples": len(y), "final_loss": round(loss, 4), "export_batch": 1})


def lstm_classifier(out_dir: Path, seed: int) -> ZooModel:
    """nn.LSTM(16 -> 48, batch_first) over 32 steps, last hidden state -> Linear(6)."""
    common.seed_torch(seed)
    import torch
    from torch import nn

    classes, steps, feats = 6, 32, 16

    class LSTMClassifier(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(feats, 48, batch_first=True)
            self.fc = nn.Linear(48, classes)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out, _ = self.lstm(x)
            return self.fc(out[:, -1])

    model = LSTMClassifier()
    x, y = common.sequence_task(600, steps, feats, classes, seed, "train")
    loss = common.fit_torch(model, (torch.from_numpy(x),), torch.from_numpy(y), epochs=12, lr=3e-3, seed=seed)
    xc, _ = common.sequence_task(300, steps, feats, classes, seed, "calibration")
    xe, ye = common.sequence_task(180, steps, feats, classes, seed, "eval")
    pred = predict(model, xe)
    checks = common.check_spread("t_lstm", pred, classes, ye)
    path = out_dir / "model.pt2"
    save_pt2(model, (torch.from_numpy(xe[:2]),), path, ["x"])
    common.save_npz(out_dir / "calibration.npz", x=xc)
    common.save_npz(out_dir / "eval.npz", x=xe)
    return ZooModel("t_lstm", "torch", "classification", path, out_dir / "calibration.npz", out_dir / "eval.npz",
                    inputs={"x": [[steps, feats], "float32"]}, outputs=[[[classes], "float32"]],
                    weights="random init, fit 12 epochs on the sequence task", checks=checks,
                    train={"epochs": 12, "samples": len(y), "final_loss": round(loss, 4)})


def mtcnn_onet(out_dir: Path, seed: int) -> ZooModel:
    """ONet in facenet-pytorch's layout (NCHW, ceil-mode pooling, PReLU per channel), its weights
    converted from the mtcnn wheel's onet.lz4 (Keras HWIO kernels -> OIHW, Dense (in, out) -> (out, in)).
    facenet-pytorch ships the same weights but pins torch<2.3, so it cannot be installed here.
    Outputs: boxes (4,), landmarks (10,), face scores (2,), as in the Keras model."""
    common.seed_torch(seed)
    import torch
    from torch import nn

    from zoo.mtcnn_models import face_images, load_weights

    class ONet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1, self.prelu1 = nn.Conv2d(3, 32, 3), nn.PReLU(32)
            self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
            self.conv2, self.prelu2 = nn.Conv2d(32, 64, 3), nn.PReLU(64)
            self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
            self.conv3, self.prelu3 = nn.Conv2d(64, 64, 3), nn.PReLU(64)
            self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
            self.conv4, self.prelu4 = nn.Conv2d(64, 128, 2), nn.PReLU(128)
            self.dense5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
            self.dense6_1, self.dense6_2, self.dense6_3 = nn.Linear(256, 4), nn.Linear(256, 10), nn.Linear(256, 2)

        def forward(self, x: torch.Tensor):
            x = self.pool1(self.prelu1(self.conv1(x)))
            x = self.pool2(self.prelu2(self.conv2(x)))
            x = self.pool3(self.prelu3(self.conv3(x)))
            x = self.prelu4(self.conv4(x))
            x = self.prelu5(self.dense5(x.permute(0, 3, 2, 1).flatten(1)))
            return self.dense6_1(x), self.dense6_2(x), torch.softmax(self.dense6_3(x), dim=1)

    model = ONet().eval()
    w = iter(load_weights("onet"))
    with torch.no_grad():
        for conv, prelu in ((model.conv1, model.prelu1), (model.conv2, model.prelu2), (model.conv3, model.prelu3),
                            (model.conv4, model.prelu4)):
            conv.weight.copy_(torch.from_numpy(next(w).transpose(3, 2, 0, 1).copy()))
            conv.bias.copy_(torch.from_numpy(next(w)))
            prelu.weight.copy_(torch.from_numpy(next(w).reshape(-1)))
        for dense, prelu in ((model.dense5, model.prelu5), (model.dense6_1, None), (model.dense6_2, None),
                             (model.dense6_3, None)):
            dense.weight.copy_(torch.from_numpy(next(w).T.copy()))
            dense.bias.copy_(torch.from_numpy(next(w)))
            if prelu is not None:
                prelu.weight.copy_(torch.from_numpy(next(w).reshape(-1)))
    assert next(w, None) is None, "onet.lz4 has more arrays than ONet takes"

    xs = {}
    for split, n in (("calibration", 300), ("eval", 200)):
        x = face_images(n, 48, seed, split)  # NHWC in [-1, 1]
        xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).requires_grad_(False)
        idx = torch.arange(0, n, 2)
        v = xt[idx].clone().requires_grad_(True)
        for _ in range(40):  # the same face-score ascent as the Keras MTCNN data, on this model
            model(v)[2][:, 1].sum().backward()
            with torch.no_grad():
                v += 0.02 * v.grad.sign()
                v.clamp_(-1, 1)
            v.grad = None
        xt[idx] = v.detach()
        xs[split] = xt.numpy().astype(np.float32)
    with torch.no_grad():
        outs = [o.numpy() for o in model(torch.from_numpy(xs["eval"]))]
    face = float((outs[2][:, 1] > 0.5).mean())
    if not 0.1 <= face <= 0.9:
        raise common.DegenerateModel(f"zoo model t_mtcnn_onet: {face:.0%} of eval windows score as faces; want 10-90%")
    checks = {"face_fraction": round(face, 3), **common.check_varied("t_mtcnn_onet", outs[0], 0.99)}
    path = out_dir / "model.pt2"
    save_pt2(model, (torch.from_numpy(xs["eval"][:2]),), path, ["x"])
    common.save_npz(out_dir / "calibration.npz", x=xs["calibration"])
    common.save_npz(out_dir / "eval.npz", x=xs["eval"])
    return ZooModel("t_mtcnn_onet", "torch", "detection", path, out_dir / "calibration.npz", out_dir / "eval.npz",
                    inputs={"x": [[3, 48, 48], "float32"]}, outputs=[[[4], "float32"], [[10], "float32"], [[2], "float32"]],
                    weights="pretrained: mtcnn 1.0.0 wheel, onet.lz4, converted to PyTorch", checks=checks)
