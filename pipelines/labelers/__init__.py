"""Labelling backends (ImageNet classifier, YOLO ONNX detector, torchvision detector) and their registry."""
