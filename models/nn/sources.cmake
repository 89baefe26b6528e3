# Neural models (LibTorch). Included from models/CMakeLists.txt into pixelzip_models.
target_sources(pixelzip_models PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/exact_torch.cpp
  ${CMAKE_CURRENT_LIST_DIR}/int_layers.cpp
  ${CMAKE_CURRENT_LIST_DIR}/int_local_pixelcnn.cpp
  ${CMAKE_CURRENT_LIST_DIR}/local_coding_model.cpp
  ${CMAKE_CURRENT_LIST_DIR}/local_pixelcnn.cpp
  ${CMAKE_CURRENT_LIST_DIR}/logistic_mixture.cpp
  ${CMAKE_CURRENT_LIST_DIR}/mixture_cdf.cpp
  ${CMAKE_CURRENT_LIST_DIR}/model_file.cpp
  ${CMAKE_CURRENT_LIST_DIR}/trainer.cpp)
target_link_libraries(pixelzip_models PUBLIC ${TORCH_LIBRARIES} OpenSSL::Crypto)
