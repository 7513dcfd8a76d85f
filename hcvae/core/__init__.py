"""The numerics: data sets and lambda_max, the Gaussian VAE with fixed sigma'^2 (MLP, linear, conv), objectives,
metrics, the one training loop, closed-form theory, and argument checks. Imports nothing else of hcvae."""
