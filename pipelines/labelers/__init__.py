"""Labelling backends (ImageNet classifier, YOLO ONNX, torchvision detector) and their registry."""
