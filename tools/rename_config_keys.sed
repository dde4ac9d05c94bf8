# Issue 15.4: the flat `model` block of GAN configs became one sub-block per architecture.
# Apply to GAN configs, tests and docs only (NOT pix2pix/CycleGAN files: their own `model.ngf`/`model.ndf` stay):
#   tools/rename_config_keys.sh FILE...   (skips translation files), or  sed -i -E -f tools/rename_config_keys.sed FILE
# Idempotent: a renamed key (model.dcgan.ngf) no longer matches.
s/\bmodel\.g_hidden\b/model.mlp.g_hidden/g
s/\bmodel\.d_hidden\b/model.mlp.d_hidden/g
s/\bmodel\.ngf\b/model.dcgan.ngf/g
s/\bmodel\.ndf\b/model.dcgan.ndf/g
s/\bmodel\.fast_image_layers\b/model.dcgan.fast_image_layers/g
s/\bmodel\.g_widths\b/model.resnet.g_widths/g
s/\bmodel\.d_widths\b/model.resnet.d_widths/g
s/\bmodel\.d_down\b/model.resnet.d_down/g
