# Install rules and the CMake package (included from the root CMakeLists.txt, after cli/).
#
# `cmake --install BUILD --prefix P` installs:
#   P/bin/pixelzip
#   P/include/pixelzip/*.h                  the public API
#   P/lib/libpixelzip.so (BUILD_SHARED_LIBS: one library, libcrypto/zlib/Highway linked privately)
#     or P/lib/libpixelzip.a and every project archive it links (entropy, models, ...)
#   P/lib/pkgconfig/pixelzip.pc             for pkg-config users (relocatable: ${pcfiledir})
#   P/lib/pixelzip/libpixelzip_torch.so     the LibTorch plugin (PIXELZIP_TORCH), loaded on demand
#   P/lib/cmake/pixelzip/pixelzip{Config,ConfigVersion,Targets}.cmake
# so that find_package(pixelzip) gives pixelzip::pixelzip (INTERFACE, links the
# codec) and pixelzip::pixelzip_codec etc. None of them links LibTorch. OpenSSL, ZLIB
# and Threads are found again by the package file (find_dependency).
include(CMakePackageConfigHelpers)

# pixelzip::pixelzip, the one target users link. (The target `pixelzip` is the executable.)
add_library(pixelzip_library INTERFACE)
set_target_properties(pixelzip_library PROPERTIES EXPORT_NAME pixelzip)
if(BUILD_SHARED_LIBS)
  target_link_libraries(pixelzip_library INTERFACE pixelzip_shared)  # libpixelzip.so (codec/CMakeLists.txt)
else()
  target_link_libraries(pixelzip_library INTERFACE pixelzip_codec)   # libpixelzip.a and its archives
endif()
target_compile_features(pixelzip_library INTERFACE cxx_std_17)
add_library(pixelzip::pixelzip ALIAS pixelzip_library)

# Every non-imported library target pixelzip_codec links, directly or not:
# an exported target may only depend on targets in the same export set.
function(pixelzip_collect_project_libraries target out_var)
  set(seen ${${out_var}})
  foreach(property LINK_LIBRARIES INTERFACE_LINK_LIBRARIES)
    get_target_property(deps ${target} ${property})
    if(NOT deps)
      continue()
    endif()
    foreach(dep IN LISTS deps)
      string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" dep "${dep}")
      if(NOT TARGET "${dep}")
        continue()
      endif()
      get_target_property(aliased "${dep}" ALIASED_TARGET)
      if(aliased)
        set(dep "${aliased}")
      endif()
      get_target_property(imported "${dep}" IMPORTED)
      if(imported OR "${dep}" IN_LIST seen)
        continue()
      endif()
      list(APPEND seen "${dep}")
      pixelzip_collect_project_libraries("${dep}" seen)
    endforeach()
  endforeach()
  set(${out_var} ${seen} PARENT_SCOPE)
endfunction()

if(BUILD_SHARED_LIBS)
  set(PIXELZIP_EXPORTED_LIBRARIES pixelzip_shared)  # exported as pixelzip::pixelzip_codec
else()
  set(PIXELZIP_EXPORTED_LIBRARIES pixelzip_codec)
  # Static: the archives libpixelzip.a needs are installed and exported beside it.
  pixelzip_collect_project_libraries(pixelzip_codec PIXELZIP_EXPORTED_LIBRARIES)
  list(REMOVE_DUPLICATES PIXELZIP_EXPORTED_LIBRARIES)
endif()
message(STATUS "pixelzip: installed libraries: ${PIXELZIP_EXPORTED_LIBRARIES}")

install(TARGETS pixelzip RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
if(PIXELZIP_TORCH)
  install(TARGETS pixelzip_torch LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/pixelzip)
endif()
install(FILES ${PROJECT_SOURCE_DIR}/cli/share/pixelzip.bash-completion
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME pixelzip)
if(PIXELZIP_MAN_PAGE)
  install(FILES ${PIXELZIP_MAN_PAGE} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
endif()
install(TARGETS pixelzip_library ${PIXELZIP_EXPORTED_LIBRARIES}
  EXPORT pixelzipTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/pixelzip
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h")

set(PIXELZIP_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/pixelzip)
install(EXPORT pixelzipTargets NAMESPACE pixelzip:: DESTINATION ${PIXELZIP_CMAKE_DIR})
# Static, the archives need their dependencies found again; shared, the consumer needs nothing.
if(BUILD_SHARED_LIBS)
  set(PIXELZIP_CONFIG_DEPENDENCIES "# Shared libpixelzip: its dependencies are its own, nothing to find.")
else()
  set(PIXELZIP_CONFIG_DEPENDENCIES "find_dependency(Threads)\nfind_dependency(ZLIB)\nfind_dependency(OpenSSL COMPONENTS Crypto)")
endif()
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/pixelzipConfig.cmake.in
  ${PROJECT_BINARY_DIR}/pixelzipConfig.cmake
  INSTALL_DESTINATION ${PIXELZIP_CMAKE_DIR})
# 0.x: a minor version may change the API.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/pixelzipConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/pixelzipConfig.cmake ${PROJECT_BINARY_DIR}/pixelzipConfigVersion.cmake
  DESTINATION ${PIXELZIP_CMAKE_DIR})

# pkg-config: `c++ app.cpp $(pkg-config --cflags --libs pixelzip)`. Shared: -lpixelzip, its own
# dependencies private. Static: every archive in link order, then the system libraries.
if(BUILD_SHARED_LIBS)
  # Nothing private to list: no static libpixelzip is installed, and its dependencies are its own.
  set(PIXELZIP_PC_LIBS "-L\${libdir} -lpixelzip")
  set(PIXELZIP_PC_LIBS_PRIVATE "")
  set(PIXELZIP_PC_REQUIRES_PRIVATE "")
else()
  set(PIXELZIP_PC_LIBS "-L\${libdir} -lpixelzip -lpixelzip_models -lpixelzip_nn -lpixelzip_nn_runtime -lpixelzip_models_core -lpixelzip_entropy -lpixelzip_adaptive -lhwy -lcrypto -lz -lpthread -ldl")
  set(PIXELZIP_PC_LIBS_PRIVATE "")
  set(PIXELZIP_PC_REQUIRES_PRIVATE "")
endif()
file(RELATIVE_PATH PIXELZIP_PC_TO_PREFIX "${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig" "${CMAKE_INSTALL_PREFIX}")
string(REGEX REPLACE "/$" "" PIXELZIP_PC_TO_PREFIX "${PIXELZIP_PC_TO_PREFIX}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/pixelzip.pc.in ${PROJECT_BINARY_DIR}/pixelzip.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/pixelzip.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
