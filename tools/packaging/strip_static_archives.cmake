# CPack pre-build script: strip debug information from the static archives staged for
# the package (CPACK_STRIP_FILES strips executables and shared libraries only).
file(GLOB_RECURSE _archives "${CPACK_TEMPORARY_INSTALL_DIRECTORY}/*.a")
foreach(_archive IN LISTS _archives)
  execute_process(COMMAND strip --strip-debug "${_archive}" RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "strip --strip-debug ${_archive} failed")
  endif()
endforeach()
