# Neural models (LibTorch). Included from models/CMakeLists.txt into pixelzip_models.
target_sources(pixelzip_models PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/exact_torch.cpp
  ${CMAKE_CURRENT_LIST_DIR}/gated_coding_model.cpp ${CMAKE_CURRENT_LIST_DIR}/gated_exact.cpp ${CMAKE_CURRENT_LIST_DIR}/gated_pixelcnn.cpp ${CMAKE_CURRENT_LIST_DIR}/gated_trainable.cpp ${CMAKE_CURRENT_LIST_DIR}/int_gated_pixelcnn.cpp
  ${CMAKE_CURRENT_LIST_DIR}/hyperparameters.cpp
  ${CMAKE_CURRENT_LIST_DIR}/int_layers.cpp
  ${CMAKE_CURRENT_LIST_DIR}/int_local_pixelcnn.cpp
  ${CMAKE_CURRENT_LIST_DIR}/int_simd.cpp
  ${CMAKE_CURRENT_LIST_DIR}/local_batch.cpp
  ${CMAKE_CURRENT_LIST_DIR}/local_wavefront.cpp
  ${CMAKE_CURRENT_LIST_DIR}/local_coding_model.cpp
  ${CMAKE_CURRENT_LIST_DIR}/local_pixelcnn.cpp
  ${CMAKE_CURRENT_LIST_DIR}/local_trainable.cpp
  ${CMAKE_CURRENT_LIST_DIR}/logistic_mixture.cpp
  ${CMAKE_CURRENT_LIST_DIR}/mixture_cdf.cpp
  ${CMAKE_CURRENT_LIST_DIR}/model_file.cpp
  ${CMAKE_CURRENT_LIST_DIR}/int_multiscale.cpp
  ${CMAKE_CURRENT_LIST_DIR}/multiscale_coding_model.cpp
  ${CMAKE_CURRENT_LIST_DIR}/multiscale_torch.cpp
  ${CMAKE_CURRENT_LIST_DIR}/multiscale_trainable.cpp
  ${CMAKE_CURRENT_LIST_DIR}/int_pixelcnnpp.cpp
  ${CMAKE_CURRENT_LIST_DIR}/pixelcnnpp.cpp
  ${CMAKE_CURRENT_LIST_DIR}/pixelcnnpp_coding_model.cpp
  ${CMAKE_CURRENT_LIST_DIR}/pixelcnnpp_exact.cpp
  ${CMAKE_CURRENT_LIST_DIR}/pixelcnnpp_graph.cpp
  ${CMAKE_CURRENT_LIST_DIR}/pixelcnnpp_trainable.cpp
  ${CMAKE_CURRENT_LIST_DIR}/int_pixelcnn.cpp ${CMAKE_CURRENT_LIST_DIR}/pixelcnn.cpp ${CMAKE_CURRENT_LIST_DIR}/pixelcnn_coding_model.cpp ${CMAKE_CURRENT_LIST_DIR}/pixelcnn_trainable.cpp ${CMAKE_CURRENT_LIST_DIR}/softmax_cdf.cpp
  ${CMAKE_CURRENT_LIST_DIR}/int_row_lstm.cpp ${CMAKE_CURRENT_LIST_DIR}/row_lstm.cpp ${CMAKE_CURRENT_LIST_DIR}/row_lstm_coding_model.cpp
  ${CMAKE_CURRENT_LIST_DIR}/pixelrnn_torch.cpp ${CMAKE_CURRENT_LIST_DIR}/pixelrnn_coding_model.cpp ${CMAKE_CURRENT_LIST_DIR}/pixelrnn_trainable.cpp
  ${CMAKE_CURRENT_LIST_DIR}/int_diagonal_bilstm.cpp ${CMAKE_CURRENT_LIST_DIR}/diagonal_bilstm.cpp ${CMAKE_CURRENT_LIST_DIR}/diagonal_bilstm_coding_model.cpp
  ${CMAKE_CURRENT_LIST_DIR}/shipped_models.cpp
  ${CMAKE_CURRENT_LIST_DIR}/trainer.cpp)
target_sources(pixelzip_models PRIVATE ${CMAKE_CURRENT_LIST_DIR}/int_aux.cpp ${CMAKE_CURRENT_LIST_DIR}/aux_coding_model.cpp ${CMAKE_CURRENT_LIST_DIR}/aux_torch.cpp ${CMAKE_CURRENT_LIST_DIR}/aux_trainable.cpp)
target_link_libraries(pixelzip_models PUBLIC ${TORCH_LIBRARIES} OpenSSL::Crypto)
# Highway (libhwy-dev): the SIMD kernels of int_simd.cpp, dispatched at run time.
find_path(PIXELZIP_HWY_INCLUDE hwy/highway.h REQUIRED)
find_library(PIXELZIP_HWY_LIBRARY hwy REQUIRED)
target_include_directories(pixelzip_models PRIVATE ${PIXELZIP_HWY_INCLUDE})
target_link_libraries(pixelzip_models PRIVATE ${PIXELZIP_HWY_LIBRARY} Threads::Threads)
target_compile_definitions(pixelzip_models PRIVATE PIXELZIP_HAVE_NN_MODELS=1)

# The shipped weights (models/weights/*.pxzm) compiled into the library.
file(GLOB PIXELZIP_WEIGHT_FILES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/models/weights/*.pxzm)
set(PIXELZIP_EMBEDDED ${CMAKE_CURRENT_BINARY_DIR}/embedded_models.cpp)
add_custom_command(
  OUTPUT ${PIXELZIP_EMBEDDED}
  COMMAND ${CMAKE_COMMAND} -DWEIGHTS_DIR=${PROJECT_SOURCE_DIR}/models/weights -DOUTPUT=${PIXELZIP_EMBEDDED}
          -P ${CMAKE_CURRENT_LIST_DIR}/embed_models.cmake
  DEPENDS ${PIXELZIP_WEIGHT_FILES} ${CMAKE_CURRENT_LIST_DIR}/embed_models.cmake
  COMMENT "Embedding shipped model weights")
target_sources(pixelzip_models PRIVATE ${PIXELZIP_EMBEDDED})
