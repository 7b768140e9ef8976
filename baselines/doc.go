// Package baselines holds the comparison models of the paper's Table 3,
// each selectable as model.arch in an experiment:
//
//	swin_t        Swin Transformer (the paper's "SWIM-ViT"), Go-defined, sizes in model.baseline.swin
//	resnet18      ResNet-18        } torchvision's definitions and parameter names,
//	resnet50      ResNet-50        } explicit initialisation, adaptive pooling so
//	densenet121   DenseNet-121     } they run at the experiment's image size;
//	squeezenet    SqueezeNet 1.1   } Inception-V3 upsamples inputs below 75 px.
//	inception_v3  Inception-V3     } model.baseline.weights loads a torchvision
//	vgg16         VGG-16           } checkpoint (safetensors) by name.
//	textcnn       TextCNN (Kim, 2014), text only
//	gbdt          gradient-boosted trees (XGBoost's role), fitted on fixed features
//	logreg        multinomial logistic regression on the same features
//	majority      the training-set class prior (the ablation with no encoder left)
//
// Networks implement vbg.Network and train in the ordinary loop; package
// experiment's registry lists them beside VBG. The fitted baselines (gbdt,
// logreg, majority) have no gradient training: this package holds their
// algorithms, and train.Run fits them on fixed features (pooled pixels and
// a bag of words) and writes the same run folder as for a network, so
// comparisons read every model the same way.
package baselines
