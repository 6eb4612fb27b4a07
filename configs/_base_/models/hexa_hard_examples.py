# HEXA's hard-example generators (arXiv 2012.13493), shared by HEXA_MoCo and
# HEXA_DCluster configs as `model = dict(hard_examples=_base_.hexa_hard_examples)`.
# The paper does not publish its mixing and attack settings: every value below
# is hexa_mm's default (ours), not the paper's.
hexa_hard_examples = [
    dict(
        type='CutMixHardExample',
        alpha=1.0,  # λ ~ Beta(α, α), then recomputed from the clipped box
        prob=1.0,  # share of the images that get a partner's box
        weight=1.0,  # weight of loss_cutmix in the total loss
        name='cutmix'),
    dict(
        type='AdversarialHardExample',
        eps=2 / 255,  # L∞ bound in [0, 1] pixel units
        step_size=2 / 255,  # pixel units; one step of size ε
        steps=1,
        random_start=False,
        aux_norm=False,  # True: AdvProp auxiliary batch norms
        reuse_clean_pass=True,  # first gradient from the clean forward pass
        weight=1.0,  # weight of loss_adv in the total loss
        name='adv'),
]
