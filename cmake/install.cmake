# Install rules and the CMake package (included from the root CMakeLists.txt, after cli/).
#
# `cmake --install BUILD --prefix P` installs:
#   P/bin/pixelzip
#   P/include/pixelzip/*.h                  the public API
#   P/lib/libpixelzip_codec.a and every project library it links (entropy, models, ...)
#   P/lib/cmake/pixelzip/pixelzip{Config,ConfigVersion,Targets}.cmake
# so that find_package(pixelzip) gives pixelzip::pixelzip (INTERFACE, links the
# codec) and pixelzip::pixelzip_codec etc. Torch, OpenSSL, ZLIB and Threads
# are found again by the package file (find_dependency).
include(CMakePackageConfigHelpers)

# pixelzip::pixelzip, the one target users link. (The target `pixelzip` is the executable.)
add_library(pixelzip_library INTERFACE)
set_target_properties(pixelzip_library PROPERTIES EXPORT_NAME pixelzip)
target_link_libraries(pixelzip_library INTERFACE pixelzip_codec)
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

set(PIXELZIP_EXPORTED_LIBRARIES pixelzip_codec)
pixelzip_collect_project_libraries(pixelzip_codec PIXELZIP_EXPORTED_LIBRARIES)
list(REMOVE_DUPLICATES PIXELZIP_EXPORTED_LIBRARIES)
message(STATUS "pixelzip: installed libraries: ${PIXELZIP_EXPORTED_LIBRARIES}")

install(TARGETS pixelzip RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
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
set(PIXELZIP_TORCH_DIR_HINT "${Torch_DIR}")
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/pixelzipConfig.cmake.in
  ${PROJECT_BINARY_DIR}/pixelzipConfig.cmake
  INSTALL_DESTINATION ${PIXELZIP_CMAKE_DIR})
# 0.x: a minor version may change the API.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/pixelzipConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/pixelzipConfig.cmake ${PROJECT_BINARY_DIR}/pixelzipConfigVersion.cmake
  DESTINATION ${PIXELZIP_CMAKE_DIR})
