"""MoCo-v2 against its published definition (arXiv 2003.04297)."""
import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from hexa_mm import register_all_modules
from hexa_mm.registry import MODELS
from hexa_mm.utils import ConfigError

register_all_modules()

MOMENTUM = 0.001
TEMPERATURE = 0.2


def tiny_moco(queue_len: int = 16,
              temperature: float = TEMPERATURE,
              **kwargs) -> nn.Module:
    """A MoCoV2 with a ResNet-18 and a small neck, for 16 px inputs."""
    torch.manual_seed(0)
    return MODELS.build(
        dict(
            type='MoCoV2',
            queue_len=queue_len,
            feat_dim=8,
            momentum=MOMENTUM,
            temperature=temperature,
            backbone=dict(type='ResNet', depth=18),
            neck=dict(
                type='MoCoV2Neck',
                in_channels=512,
                hid_channels=16,
                out_channels=8,
                with_avg_pool=True),
            **kwargs))


def test_loss_and_queue_follow_the_definition() -> None:
    # float64, so that batch-norm rounding (keys are computed in a shuffled
    # order) stays far below the tolerance
    model = tiny_moco().double()
    model.train()
    batches = [[torch.randn(4, 3, 16, 16, dtype=torch.float64)
                for _ in range(2)] for _ in range(3)]
    # a first step, so that the key encoder's momentum update is a real one
    model.loss(batches[0], None)
    with torch.no_grad():
        for p in model.backbone.parameters():
            p.add_(0.01 * torch.randn_like(p))
    query_net = nn.Sequential(model.backbone, model.neck)
    key_params = {
        name: p.detach().clone()
        for name, p in model.encoder_k.module.named_parameters()
    }
    queue, ptr = model.queue.clone(), int(model.queue_ptr)

    for im_q, im_k in batches[1:]:
        # the definition: momentum update, then keys, query, CE, enqueue
        key_net = copy.deepcopy(query_net)
        with torch.no_grad():
            for (name, p_k), p_q in zip(key_net.named_parameters(),
                                        query_net.parameters()):
                key_params[name] = (1 - MOMENTUM) * key_params[name] + \
                    MOMENTUM * p_q.detach()
                p_k.copy_(key_params[name])
            k = F.normalize(key_net(im_k)[0], dim=1)
        q = F.normalize(query_net(im_q)[0], dim=1)
        logits = torch.cat([(q * k).sum(1, keepdim=True), q @ queue],
                           dim=1) / TEMPERATURE
        expected = -F.log_softmax(logits, dim=1)[:, 0].mean()
        queue[:, ptr:ptr + 4] = k.t()
        ptr = (ptr + 4) % 16

        losses = model.loss([im_q, im_k], None)
        assert set(losses) == {'loss_clean'}
        assert torch.allclose(
            losses['loss_clean'], expected, rtol=0, atol=1e-6)
        assert torch.allclose(model.queue, queue, rtol=0, atol=1e-6)
        assert int(model.queue_ptr) == ptr


def test_equals_mmpretrain_moco_on_the_same_weights() -> None:
    ours = tiny_moco()
    ref = MODELS.build(
        dict(
            type='mmpretrain.MoCo',
            queue_len=16,
            feat_dim=8,
            momentum=MOMENTUM,
            backbone=dict(type='ResNet', depth=18),
            neck=dict(
                type='MoCoV2Neck',
                in_channels=512,
                hid_channels=16,
                out_channels=8,
                with_avg_pool=True),
            head=dict(
                type='ContrastiveHead',
                loss=dict(type='CrossEntropyLoss'),
                temperature=TEMPERATURE)))
    ref.load_state_dict(ours.state_dict(), strict=False)
    ref.queue.copy_(ours.queue)
    ours.double()
    ref.double()
    for step in range(2):
        views = [
            torch.randn(4, 3, 16, 16, dtype=torch.float64) for _ in range(2)
        ]
        torch.manual_seed(step)  # the same batch shuffle
        a = ours.loss(views, None)['loss_clean']
        torch.manual_seed(step)
        b = ref.loss(views, None)['loss']
        assert torch.allclose(a, b, rtol=0, atol=1e-6)
    assert torch.allclose(ours.queue, ref.queue, rtol=0, atol=1e-6)


def test_hard_view_label_space_is_batch_keys_then_queue() -> None:
    model = tiny_moco()
    views = [torch.randn(4, 3, 16, 16) for _ in range(2)]
    labels = model.pseudo_labels(views, None)
    assert labels.probs.shape == (4, 4 + 16)
    assert torch.equal(labels.probs[:, :4], torch.eye(4))
    assert labels.probs[:, 4:].abs().sum() == 0
    logits = model.logits(views[0], labels)
    q = model.encode(views[0])
    keys = labels.context['keys']
    assert torch.allclose(logits[:, :4], q @ keys.t() / TEMPERATURE)
    assert torch.allclose(logits[:, 4:], q @ model.queue / TEMPERATURE)


def test_queue_not_a_multiple_of_the_global_batch() -> None:
    model = tiny_moco(queue_len=18)
    with pytest.raises(ConfigError, match='queue_len=18 is not a multiple'):
        model.check_train_setup(global_batch_size=4, dataset_size=100)
    with pytest.raises(ConfigError, match='not a multiple'):
        model.loss([torch.randn(4, 3, 16, 16) for _ in range(2)], None)


@pytest.mark.parametrize('kwargs', [dict(queue_len=0), dict(temperature=0)])
def test_bad_fields(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        tiny_moco(**kwargs)
